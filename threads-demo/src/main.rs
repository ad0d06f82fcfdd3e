fn main() {
    common::init();
}
