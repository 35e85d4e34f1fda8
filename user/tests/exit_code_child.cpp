// A child that exits with code 7, for ProcessHandle.wait.
int main() {
    return 7;
}
