fn main() {
    nplusx::util::limit_malloc_arenas();
    std::process::exit(nplusx::cli::main());
}
