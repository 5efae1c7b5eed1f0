import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A per-run lock on a file the run writes (the logs of a -jobID, a model file), so that two
/// runs into the same folders cannot mix their files: the second is refused with the first
/// one's pid. An exclusive `flock` on a lock file beside the written files: the kernel drops
/// it when the process ends, however it ends, so a lock file left behind by a killed run is
/// simply taken over. The lock file is removed when the run releases it.
final class RunLock {
    let path: String
    private var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Takes the lock `folder/.<name>.lock`, creating `folder` when missing; this is also the
    /// check that `folder` is writable. `what` describes the files for the refusal message
    /// ("logs/localMain.*"), `hint` what to change ("-jobID").
    static func acquire(folder: String, name: String, what: String, flag: String, hint: String) throws -> RunLock {
        let dir = folder.isEmpty ? "." : folder
        let e = makeFolders(dir)
        if e != 0 { throw CLIError("cannot create the \(flag) folder \(dir): \(String(cString: strerror(e)))") }
        // A -model such as ../x names a file elsewhere; its lock stays in this folder.
        let path = (dir as NSString).appendingPathComponent("." + name.replacingOccurrences(of: "/", with: "_") + ".lock")
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw CLIError("cannot write to the \(flag) folder \(dir): \(String(cString: strerror(errno)))")
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let e = errno
                let other = ownerPID(fd)
                close(fd)
                if e == EWOULDBLOCK {
                    let who = other.map { "another workbench run (pid \($0))" } ?? "another workbench run"
                    throw CLIError("\(who) is writing \(what); wait for it or use \(hint)")
                }
                throw CLIError("cannot lock \(path): \(String(cString: strerror(e)))")
            }
            // The file may have been removed (and recreated) by the run that held it, between
            // our open and our flock: then the lock is on a dead file; take the current one.
            var mine = stat(), there = stat()
            if fstat(fd, &mine) == 0, stat(path, &there) == 0, mine.st_ino == there.st_ino, mine.st_dev == there.st_dev {
                let text = "\(getpid())\n"
                _ = ftruncate(fd, 0)
                _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
                return RunLock(path: path, fd: fd)
            }
            close(fd)
        }
    }

    /// Removes the lock file and drops the lock (idempotent).
    func release() {
        guard fd >= 0 else { return }
        unlink(path)
        close(fd)
        fd = -1
    }

    deinit { release() }

    private static func ownerPID(_ fd: Int32) -> Int? {
        var buf = [CChar](repeating: 0, count: 32)
        let n = pread(fd, &buf, 31, 0)
        guard n > 0 else { return nil }
        return Int(String(cString: buf).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// `mkdir -p`, giving the errno of the first failure (ENOTDIR when a file is in the way).
    private static func makeFolders(_ path: String) -> Int32 {
        var st = stat()
        if stat(path, &st) == 0 { return (st.st_mode & S_IFMT) == S_IFDIR ? 0 : ENOTDIR }
        // The parent by hand: Foundation's deletingLastPathComponent crashes on a one-letter
        // relative path ("o").
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        let parent = trimmed.lastIndex(of: "/").map { String(trimmed[..<$0]) } ?? ""
        if !parent.isEmpty, parent != path {
            let e = makeFolders(parent)
            if e != 0 { return e }
        }
        if mkdir(path, 0o777) != 0 && errno != EEXIST { return errno }
        return 0
    }
}
