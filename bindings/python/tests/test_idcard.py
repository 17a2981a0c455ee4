"""The Python package against the same vectors as the Rust tests, a dict model on random data,
every supported input type, bad inputs, and deltas applied while another thread verifies.

The data they run against (the C suites' snapshots and deltas, the idcard binary to make a
journal) comes from the fixtures of conftest.py, which build it when it is not given.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import random
import subprocess
import threading

import numpy as np
import pytest

import idcard
from idcard import CardStatus

ROOT = pathlib.Path(__file__).resolve().parents[3]
VECTORS = json.loads((ROOT / "tests/vectors/numbers.json").read_text(encoding="utf-8"))


W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def with_check(body: str) -> str:
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W)) % 11]


# ---- numbers (N1-N3) ----


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: v["note"] or v["input"])
def test_n1_n2_n3_shared_vectors(v):
    if v["valid"]:
        info = idcard.parse_number(v["input"])
        assert info.number == v["number"]
        assert info.upgraded_from_15 == v["upgraded_from_15"]
        assert isinstance(info.birth_date, dt.date)
    else:
        if v["kind"] == "future_birth_date":
            pytest.skip("depends on today")
        with pytest.raises(idcard.InvalidNumber) as e:
            idcard.parse_number(v["input"])
        assert e.value.kind == v["kind"]
        assert isinstance(e.value, ValueError) and isinstance(e.value, idcard.Error)
    assert bool(idcard.check_numbers([v["input"]], strict=True)[0]) == v["strict_valid"]


def test_n1_number_info_fields():
    info = idcard.parse_number("110105491231002")
    assert (info.number, info.division_code, info.division_name, info.province) == ("11010519491231002X", "110105", "朝阳区", "北京市")
    assert (info.birth_date, info.sex, info.upgraded_from_15) == (dt.date(1949, 12, 31), "female", True)
    assert "11010519491231002X" in repr(info)


def test_n1_bad_inputs_raise_the_right_exception():
    for bad in (None, b"11010519491231002X", 110105, ["11010519491231002X"]):
        with pytest.raises(TypeError):
            idcard.parse_number(bad)
    with pytest.raises(idcard.InvalidNumber) as e:
        idcard.parse_number("11010519491231002Y")
    assert (e.value.kind, e.value.position) == ("character", 18)
    with pytest.raises(idcard.InvalidNumber):
        idcard.parse_number("一二三")


def test_n1_check_numbers_every_input_type():
    good = "11010519491231002X"
    bad = "110105194912310021"
    want = [True, False]
    inputs = [
        [good, bad],
        (good, bad),
        np.array([good, bad]),  # U18
        np.array([good, bad], dtype="S18"),
        np.array([good, bad], dtype=object),
        np.array([" " + good, bad + " "]),  # U19: general path, blanks trimmed
        np.array(["".join(chr(ord(c) + 0xFEE0) for c in good), bad]),  # full-width U18
        np.array(["110105491231002", bad], dtype="S18"),  # NUL-padded legacy number
    ]
    for arr in inputs:
        assert idcard.check_numbers(arr).tolist() == want, repr(arr)
    ok, why = idcard.check_numbers([good, bad, None], reasons=True)
    assert ok.tolist() == [True, False, False]
    assert why[0] is None and why[1].startswith("check_character:") and why[2].startswith("length:")
    assert idcard.check_numbers(np.array([good, bad], dtype="S18"), reasons=True)[1][1].startswith("check_character")
    assert idcard.check_numbers([with_check("11011819900101001")], strict=True).tolist() == [False]
    with pytest.raises(TypeError):
        idcard.check_numbers([good, b"bytes"])
    with pytest.raises(TypeError):
        idcard.check_numbers(good)
    with pytest.raises(TypeError):
        idcard.check_numbers(np.array([1, 2]))


# ---- the verifier (L3) against a dict model ----


def random_cards(rng: random.Random, n: int):
    cards = []
    seen = set()
    while len(cards) < n:
        div = rng.choice(["110105", "440106", "310101", "510104", "420111"])
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(60 * 365))
        num = with_check(f"{div}{birth:%Y%m%d}{rng.randrange(1000):03d}")
        # Valid from within the last four years: no card has expired (N5: five years at least).
        recent = dt.date.today() - dt.timedelta(days=4 * 365)
        start = max(birth + dt.timedelta(days=16 * 365), recent) + dt.timedelta(days=rng.randrange(365))
        if (num, start) not in seen:
            seen.add((num, start))
            cards.append((num, start))
    return cards


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    rng = random.Random(7)
    cards = random_cards(rng, 3000)
    listed = {}
    statuses = [CardStatus.LOST, CardStatus.STOLEN, CardStatus.SUPERSEDED, CardStatus.INVALIDATED]
    for num, start in cards[:1000]:
        listed[(num, start)] = rng.choice(statuses)
    path = tmp_path_factory.mktemp("snap") / "bank.idcs"
    rows = [(n, d, s.name.lower() if i % 2 else s) for i, ((n, d), s) in enumerate(listed.items())]
    info = idcard.build_snapshot(path, rows)
    assert info["card_count"] == 1000 and info["profile"] == "bank"
    return idcard.Verifier.open(path, allow_unsigned=True), cards, listed


def test_l3_verify_matches_dict_model(model):
    v, cards, listed = model
    for num, start in cards:
        assert v.verify(num, start) == listed.get((num, start), CardStatus.VALID)
    assert isinstance(v.verify(cards[0][0], cards[0][1]), CardStatus)


def test_l3_verify_many_every_input_type(model):
    v, cards, listed = model
    nums = [n for n, _ in cards]
    dates = [d for _, d in cards]
    want = np.array([listed.get(c, CardStatus.VALID) for c in cards], dtype=np.uint8)
    for numbers in (nums, np.array(nums), np.array(nums, dtype="S18"), np.array(nums, dtype=object)):
        for valid_from in (
            dates,
            np.array(dates, dtype="datetime64[D]"),
            np.array(dates, dtype="datetime64[ns]"),
            [d.isoformat() for d in dates],
        ):
            got = v.verify_many(numbers, valid_from)
            assert got.dtype == np.uint8
            assert (got == want).all()
    # One date for every card; lower case and blanks normalised.
    same_day = v.verify_many([nums[0], " " + nums[1].lower() + " "], dates[0])
    assert same_day[0] == listed.get((nums[0], dates[0]), CardStatus.VALID)


def test_n5_expired_cards_and_other_kinds_of_number(model):
    v, _, _ = model
    # A 20-year-old's card from 2010 ran ten years (N5): expired, one at a time and in batches.
    assert v.verify("110105199001010010", dt.date(2010, 1, 1)) == CardStatus.EXPIRED
    out = v.verify_many(["110105199001010010"], [dt.date(2010, 1, 1)])
    assert out.tolist() == [CardStatus.EXPIRED]
    assert CardStatus.EXPIRED.refused
    # A foreign permanent resident's number has no resident identity card.
    assert v.verify("932682198501010017", dt.date(2024, 1, 1)) == CardStatus.INVALID_NUMBER


def test_l3_verify_many_bad_inputs(model):
    v, cards, _ = model
    n, d = cards[0]
    out = v.verify_many([n, None, "garbage", "110105194912310021"], [d, d, d, d])
    assert out[1:].tolist() == [CardStatus.INVALID_NUMBER] * 3
    out = v.verify_many(np.array([n, n]), np.array([np.datetime64("NaT"), np.datetime64(d)], dtype="datetime64[D]"))
    assert out[0] == CardStatus.INVALID_NUMBER
    with pytest.raises(TypeError):
        v.verify_many([n, b"bytes"], [d, d])
    with pytest.raises(ValueError):
        v.verify_many([n, n], [d, d, d])
    with pytest.raises(TypeError):
        v.verify(None, d)


def test_l3_info_and_files(model, tmp_path, test_data):
    v, _, _ = model
    info = v.info()
    assert info["card_count"] == 1000 and info["profile"] == "bank" and info["stale"] is False
    assert info["signature"] == "unsigned" and info["signed_by"] is None
    trust = test_data / "platform.trust"
    with pytest.raises(idcard.FileError) as e:
        idcard.Verifier.open(tmp_path / "missing.idcs", trust)
    assert isinstance(e.value, OSError)
    good = (test_data / "unsigned-bank.idcs").read_bytes()
    bad = bytearray(good)
    bad[-3] ^= 0x10
    (tmp_path / "bad.idcs").write_bytes(bytes(bad))
    with pytest.raises(idcard.CorruptSnapshot) as e:
        idcard.Verifier.open(tmp_path / "bad.idcs", allow_unsigned=True)
    assert "bad.idcs" in str(e.value) and isinstance(e.value, ValueError)
    (tmp_path / "text.idcs").write_text("hello")
    with pytest.raises(idcard.NotASnapshot):
        idcard.Verifier.open(tmp_path / "text.idcs", trust)


def test_a6_blacklist_police_and_bank(tmp_path, test_data):
    num = "11010519491231002X"
    info = idcard.build_snapshot(tmp_path / "p.idcs", [(num, dt.date(2005, 6, 1), "lost")], blacklist=[(num, "forged|identity_card")], profile="police")
    assert info["blacklist_count"] == 1
    p = idcard.Verifier.open(tmp_path / "p.idcs", allow_unsigned=True)
    entry = p.blacklist_check(num)
    assert entry["reasons"] == ["forged", "identity_card"] and entry["reason_bits"] == 0x201
    assert p.blacklist_check("440524188001010014") is None
    b = idcard.Verifier.open(test_data / "bank.idcs", test_data / "platform.trust")
    with pytest.raises(idcard.NoBlacklist):
        b.blacklist_check(num)
    with pytest.raises(idcard.Error):
        idcard.build_snapshot(tmp_path / "x.idcs", [], blacklist=[(num, "smuggling")], profile="police")


def test_build_snapshot_from_pandas_and_bad_rows(tmp_path):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {
            "number": ["11010519491231002X", "440524188001010014"],
            "valid_from": pd.to_datetime(["2005-06-01", "1990-01-02"]),
            "status": ["lost", CardStatus.SUPERSEDED],
        }
    )
    idcard.build_snapshot(tmp_path / "df.idcs", df)
    v = idcard.Verifier.open(tmp_path / "df.idcs", allow_unsigned=True)
    assert v.verify("440524188001010014", dt.date(1990, 1, 2)) == CardStatus.SUPERSEDED
    with pytest.raises(idcard.InvalidNumber) as e:
        idcard.build_snapshot(tmp_path / "bad.idcs", [("11010519491231002X", dt.date(2005, 6, 1), "lost"), ("110105194912310021", dt.date(2005, 6, 1), "lost")])
    assert e.value.row == 1
    with pytest.raises(idcard.Error):
        idcard.build_snapshot(tmp_path / "bad2.idcs", [("11010519491231002X", dt.date(2005, 6, 1), "valid")])
    with pytest.raises(ValueError):
        idcard.build_snapshot(tmp_path / "bad3.idcs", df.drop(columns=["status"]))


def chain(test_data):
    rows = (test_data / "chain.txt").read_text().split("\n")
    return [(r.split()[0], dt.datetime.strptime(r.split()[1], "%Y%m%d").date()) for r in rows if r.strip()]


def test_l3_a_folder_of_deltas_applies_by_sequence(test_data):
    d = test_data
    v = idcard.Verifier.open(d / "bank.idcs", d / "platform.trust")
    cards = chain(test_data)
    assert v.apply_delta_dir(d / "deltas") == {"applied": 10, "timestamps": 1, "skipped": []}
    assert v.verify(*cards[9]) == CardStatus.LOST
    assert v.verify(*cards[10]) == CardStatus.VALID
    assert v.apply_delta_dir(d / "deltas")["applied"] == 0
    info = v.info()
    assert (info["journal_seq"], info["deltas_verified"], info["timestamp_seq"]) == (110, 10, 120)
    with pytest.raises(idcard.FileError, match="no-such-folder"):
        v.apply_delta_dir(d / "no-such-folder")


def test_l3_deltas_in_order_and_while_another_thread_verifies(test_data):
    d = test_data
    v = idcard.Verifier.open(d / "bank.idcs", d / "platform.trust")
    with pytest.raises(idcard.DeltaOutOfOrder):
        v.apply_delta(d / "bank-d02.idcd")
    cards = chain(test_data)
    nums = np.array([n for n, _ in cards])[::-1]
    dates = np.array([x for _, x in cards], dtype="datetime64[D]")[::-1]
    stop = threading.Event()
    errors: list[str] = []

    def reader():
        seen = np.zeros(len(cards), dtype=bool)
        while not stop.is_set():
            out = v.verify_many(nums, dates)[::-1]
            lost = out == CardStatus.LOST
            k = int(np.argmin(lost)) if not lost.all() else len(lost)
            if lost[k:].any():
                errors.append("a later card listed before an earlier one")
            if (seen & ~lost).any():
                errors.append("a card went back to valid")
            seen |= lost

    t = threading.Thread(target=reader)
    t.start()
    for i in range(1, 21):
        v.apply_delta(d / f"bank-d{i:02d}.idcd")
        assert v.verify(*cards[i - 1]) == CardStatus.LOST
    stop.set()
    t.join()
    assert not errors, errors[:3]
    assert v.info()["deltas_applied"] == 20


def test_l3_stale_snapshot(test_data):
    trust = test_data / "platform.trust"
    v = idcard.Verifier.open(test_data / "old-bank.idcs", trust)  # two days old, a day allowed
    with pytest.raises(idcard.StaleSnapshot):
        v.ensure_fresh()
    n, d = chain(test_data)[0]
    assert v.verify(n, d) == CardStatus.STALE
    idcard.Verifier.open(test_data / "bank.idcs", trust).ensure_fresh()
    idcard.Verifier.open(test_data / "old-bank.idcs", trust, max_age=None).ensure_fresh()
    with pytest.raises(ValueError):
        idcard.Verifier.open(test_data / "bank.idcs", trust, max_age=-1)


# ---- trust: what an analyst's or a bank's verifier refuses (issue 14) ----


def test_l3_s2_trusted_open_says_who_signed(test_data):
    v = idcard.Verifier.open(test_data / "bank.idcs", test_data / "platform.trust")
    info = v.info()
    assert info["signature"] == "verified" and len(info["signed_by"]) == 16 and info["signed_by_name"]
    assert info["max_age_seconds"] == 86400 and info["needs_snapshot"] is False


def test_l3_fail_closed_without_trust_or_signature(test_data, tmp_path):
    trust = test_data / "platform.trust"
    with pytest.raises(idcard.TrustRequired):
        idcard.Verifier.open(test_data / "bank.idcs")
    with pytest.raises(idcard.UnsignedFile) as e:
        idcard.Verifier.open(test_data / "unsigned-bank.idcs", trust)
    assert isinstance(e.value, idcard.UntrustedFile) and "unsigned-bank.idcs" in str(e.value)
    # Signed, but no trust file to check it against: opened only when asked, and said so.
    v = idcard.Verifier.open(test_data / "bank.idcs", allow_unsigned=True)
    assert v.info()["signature"] == "unchecked"
    # One bit of a signed file changed: the content no longer matches the signed hash.
    bad = bytearray((test_data / "bank.idcs").read_bytes())
    bad[200] ^= 1
    (tmp_path / "altered.idcs").write_bytes(bytes(bad))
    with pytest.raises(idcard.BadSignature):
        idcard.Verifier.open(tmp_path / "altered.idcs", trust)
    (tmp_path / "bad.trust").write_text("not a key file")
    with pytest.raises(idcard.TrustFileError):
        idcard.Verifier.open(test_data / "bank.idcs", tmp_path / "bad.trust")


def test_l3_forged_and_replayed_deltas_are_refused(test_data, tmp_path):
    trust = test_data / "platform.trust"
    v = idcard.Verifier.open(test_data / "bank.idcs", trust)
    cards = chain(test_data)
    with pytest.raises(idcard.UnsignedFile):
        v.apply_delta(test_data / "forged-d01.idcd")
    with pytest.raises(idcard.UntrustedKey):
        v.apply_delta(test_data / "evil-d01.idcd")
    assert v.verify(*cards[0]) == CardStatus.VALID  # neither changed anything
    (tmp_path / "forged-d01.idcd").write_bytes((test_data / "forged-d01.idcd").read_bytes())
    report = v.apply_delta_dir(tmp_path)
    assert report["applied"] == 0 and [f for f, _ in report["skipped"]] == ["forged-d01.idcd"]
    v.apply_delta(test_data / "bank-d01.idcd")
    with pytest.raises(idcard.DeltaOutOfOrder):
        v.apply_delta(test_data / "bank-d01.idcd")  # replayed
    assert v.verify(*cards[0]) == CardStatus.LOST


def test_l3_rollback_across_restarts(test_data, tmp_path):
    trust = test_data / "platform.trust"
    state = tmp_path / "verifier.state"
    v = idcard.Verifier.open(test_data / "bank.idcs", trust, state_file=state)
    v.apply_delta(test_data / "bank-d01.idcd")
    del v
    with pytest.raises(idcard.Rollback):
        idcard.Verifier.open(test_data / "old-bank.idcs", trust, state_file=state, max_age=None)


def test_l3_timestamps_keep_fresh_and_bound_deltas(test_data):
    trust = test_data / "platform.trust"
    v = idcard.Verifier.open(test_data / "bank.idcs", trust)
    v.apply_timestamp(test_data / "timestamp-110.idct")
    assert v.info()["timestamp_seq"] == 110
    for i in range(1, 11):
        v.apply_delta(test_data / f"bank-d{i:02d}.idcd")
    with pytest.raises(idcard.BeyondTimestamp):
        v.apply_delta(test_data / "bank-d11.idcd")
    v.apply_timestamp(test_data / "timestamp.idct")
    v.apply_delta(test_data / "bank-d11.idcd")
    assert v.info()["timestamp_seq"] == 120


# ---- the journal ----


@pytest.fixture(scope="module")
def journal_dir(tmp_path_factory, idcard_cli):
    cli = idcard_cli
    d = tmp_path_factory.mktemp("record") / "data"

    def run(*args, ok=(0,)):
        r = subprocess.run([cli, *args, "--data", str(d)], capture_output=True, text=True)
        assert r.returncode in ok, r.stderr
        return r

    keys = d.parent

    def key(officer):
        path = keys / f"{officer}.key"
        if not path.exists():
            r = subprocess.run([cli, "key", "generate", "--name", officer, "-o", str(path)], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
        return path

    run("init", "--kind", "ministry", "--bureau-id", "PSB", "--division", "110000", "--name", "b", "--officer-id", "B1", "--officer-name", "w",
        "--officer-key", str(key("B1").with_suffix(".pub")))
    bureau = ["--officer", "B1", "--station", "PSB", "--key", str(key("B1"))]
    run("station", "add", *bureau, "--id", "HR", "--kind", "household_registration_station", "--division", "440106", "--name", "hr")
    run("officer", "add", *bureau, "--id", "P1", "--name", "p", "--at", "HR", "--public-key", str(key("P1").with_suffix(".pub")))
    people = d.parent / "p.csv"
    people.write_text("number,name,hukou_division,fingerprint\n11010519491231002X,Z,110105,\n440524188001010014,L,440524,lfp\n")
    issued = d.parent / "i.csv"
    issued.write_text("number,valid_from,fingerprints\n11010519491231002X,2005-06-01,false\n440524188001010014,1990-01-02,true\n")
    run("population", "import", *bureau, "--file", str(people))
    run("card", "import", *bureau, "--file", str(issued))
    hr = ["--officer", "P1", "--station", "HR", "--key", str(key("P1"))]
    run("loss", "report", *hr, "--number", "11010519491231002X", "--present", "11010519491231002X")
    # Refused: fingerprints.
    run("loss", "report", *hr, "--number", "440524188001010014", "--present", "440524188001010014", ok=(1,))
    # An attempt in P1's name without P1's key: refused, recorded as unauthenticated (S1).
    run("loss", "report", "--officer", "P1", "--station", "HR", "--number", "11010519491231002X",
        "--present", "11010519491231002X", ok=(1,))
    return d


def test_journal_events_and_pandas(journal_dir):
    j = idcard.Journal.open(journal_dir)
    events = list(j)
    kinds = [e.kind for e in events]
    assert kinds.count("loss_reported") == 1 and kinds.count("command_refused") == 1
    # S2: one officer's whole trail, the attempt made in their name included.
    trail = j.trail("P1")
    assert [e.kind for e in trail] == ["loss_reported", "command_refused", "authentication_failed"]
    assert trail[-1].officer == "UNAUTHENTICATED" and trail[-1].claimed_officer == "P1"
    loss = next(e for e in events if e.kind == "loss_reported")
    assert (loss.reason, loss.holder_division, loss.station) == ("lost", "110105", "HR")
    assert len(loss.card) == 16 and "11010519491231002X" not in repr(loss)
    assert isinstance(loss.at, dt.datetime)
    refusal = next(e for e in events if e.kind == "command_refused")
    assert (refusal.command, refusal.reason) == ("ReportLoss", "fingerprint_required")
    pytest.importorskip("pandas")
    df = j.to_pandas()
    assert len(df) == len(events)
    assert {"seq", "at", "month", "station", "station_province", "kind", "reason", "holder_province"} <= set(df.columns)
    by_province = df[df.kind == "loss_reported"].groupby("holder_province").size()
    assert by_province.to_dict() == {"110000": 1}
    assert df[df.kind == "loss_reported"].station_province.iloc[0] == "440000"
    with pytest.raises(idcard.FileError):
        idcard.Journal.open(journal_dir.parent / "nowhere")


def test_division_names_and_version():
    assert idcard.division_name("110103", dt.date(2000, 1, 1)) == "崇文区"
    assert idcard.division_name("999999") is None
    assert idcard.__version__ == idcard.version()
