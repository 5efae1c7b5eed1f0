import Engine
import Foundation
import XCTest

/// `workbench sweep --slurm` through a real Slurm: scripts/slurm/one-node-cluster.sh starts a
/// one-node cluster on loopback in private namespaces (root), the sweep is submitted as a job
/// array with sbatch, waited for and merged, and its CSV is compared with `--jobs 1`'s, bit
/// for bit on every column but `seconds`. Then a task is made to fail: the merge names its
/// cells and its task, and the same command run again finishes the sweep. Needs slurm-wlm and
/// munge (scripts/setup/install.sh installs them; CI runs it): without them the test fails.
final class CLISweepSlurmTests: XCTestCase {
    /// Runs `command` inside a fresh one-node cluster, in the fixture's folder.
    private func inCluster(_ f: CLIFixture, _ command: [String]) throws -> CLIFixture.Result {
        try CLIFixture.run([CLIFixture.repositoryRoot + "/scripts/slurm/one-node-cluster.sh"] + command, in: f.folder, executable: "/bin/bash")
    }

    func testAJobArrayGivesTheSameCSVAsOneProcess() throws {
        for tool in ["sbatch", "squeue", "slurmctld", "slurmd", "munged", "unshare"] {
            guard (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
                .contains(where: { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") || FileManager.default.isExecutableFile(atPath: "/usr/sbin/\(tool)") }) else {
                return XCTFail("\(tool) is not installed: this test needs slurm-wlm and munge (scripts/setup/install.sh installs them)")
            }
        }
        guard getuid() == 0 else { return XCTFail("this test starts a Slurm cluster in private namespaces: it needs root") }
        let f = try CLIFixture()
        let grid = CLISweepTests.options(f) + ["--levels", "0:1:0.1", "--seeds", "0,1", "--retrain-epochs", "1"]
        let one = try f.run(grid + ["--out", "one"])
        XCTAssertEqual(one.status, 0, one.output)
        let reference = CLISweepTests.numbers(f.read("one/sensitivity.csv"))
        XCTAssertEqual(reference.count, 45)

        let binary = try CLIFixture.binary()
        let slurm = grid + ["--slurm", "--wait", "--cells-per-task", "10", "--mem", "200M", "--time", "0:10:00", "--out", "array"]
        let r = try inCluster(f, [binary] + slurm)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("5 array tasks (--array=0-4) for 44 cells"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Slurm tasks: 5; start-up (process start, model and data load) mean "), r.stdout)
        XCTAssertEqual(CLISweepTests.numbers(f.read("array/sensitivity.csv")), reference)
        XCTAssertEqual(f.files(in: "array/slurm").filter { $0.hasSuffix(".out") }.count, 5)

        // A task that fails (its cells' results unwritable): the merge names its cells and the
        // task; run again, only that chunk is submitted and the sweep completes.
        let grid2 = slurm.map { $0 == "array" ? "broken" : $0 }
        let first = try inCluster(f, ["bash", "-c", "mkdir -p broken/cells/mag_l2_p0.2_s0.csv && exec \"$@\"", "-", binary] + grid2)
        XCTAssertNotEqual(first.status, 0, first.output)
        XCTAssertTrue(first.stderr.contains("1 of 44 cells have no result"), first.stderr)
        XCTAssertTrue(first.stderr.contains("layer 2, level 0.2, pruner mag, seed 0: unreadable (Slurm task 0 of job "), first.stderr)
        try FileManager.default.removeItem(atPath: f.path("broken/cells/mag_l2_p0.2_s0.csv"))
        let second = try inCluster(f, [binary] + grid2)
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertTrue(second.stdout.contains("43 with a result, 1 to run"), second.stdout)
        XCTAssertTrue(second.stdout.contains("1 array task (--array=0) for 1 cells"), second.stdout)
        XCTAssertEqual(CLISweepTests.numbers(f.read("broken/sensitivity.csv")), reference)
    }
}
