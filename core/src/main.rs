fn main() {
    std::process::exit(nplusx::cli::main());
}
