// The smallest child: it holds whatever it was given and exits 0 at once. The
// spawn tests start it to prove the spawner still works; the leak test starts
// it a thousand times.
int main() {
    return 0;
}
