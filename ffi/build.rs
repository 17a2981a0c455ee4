//! The shared library's SONAME carries the major version, so programs linked against
//! `libidcard.so.0` keep working across compatible releases.
fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libidcard.so.{major}");
    }
}
