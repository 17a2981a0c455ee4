fn main() {
    cxx_build::bridge("src/lib.rs")
        .std("c++17")
        .compile("idcard-cxx-bridge");
    println!("cargo:rerun-if-changed=src/lib.rs");
    println!("cargo:rerun-if-changed=include/platform.h");
}
