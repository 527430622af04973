fn main() {
    println!("maskscope: the CLI lands next");
}
