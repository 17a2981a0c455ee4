//! The committed header `ffi/include/idcard.h` is what the pinned cbindgen generates from the
//! source: a change of the C interface is a visible change of the header.
//! `IDCARD_BLESS=1 cargo test -p idcard-ffi --test header` regenerates it.

#[test]
fn committed_header_matches_generated() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let path = dir.join("include/idcard.h");
    if std::env::var_os("IDCARD_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "ffi/include/idcard.h differs from what cbindgen generates; regenerate with IDCARD_BLESS=1 cargo test -p idcard-ffi --test header"
    );
}
