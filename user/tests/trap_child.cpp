// A child that executes ud2 (#UD, vector 6) in main, for ProcessHandle.wait's
// faulted status.
int main() {
    __builtin_trap();
}
