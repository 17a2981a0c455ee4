//! The shared library's SONAME carries the ABI version, so programs linked against one keep
//! working across compatible releases and refuse to load an incompatible one: the major version
//! from 1.0 on (`libidcard.so.1`), and before it the minor version too (`libidcard.so.0.2`), as
//! in Cargo's semver, where 0.1 and 0.2 are incompatible.
fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").expect("set by cargo");
    let abi = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libidcard.so.{abi}");
    }
}
