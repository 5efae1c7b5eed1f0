import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files all-or-nothing: the bytes go to a temporary file in the destination's
/// folder, which is flushed to disk and then renamed over the destination with rename(2).
/// Readers see the old file or the complete new one, never a partial file; on any error the
/// temporary file is removed and an existing destination is left untouched.
public enum AtomicFile {
    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try write(to: path) { append in try append(bytes) }
    }

    /// Writes to `path` atomically what `produce` passes to its `append` function, in
    /// order. If `produce` throws, nothing is written and the error is rethrown.
    public static func write(to path: String, _ produce: (_ append: ([UInt8]) throws -> Void) throws -> Void) throws {
        let folder = parentFolder(of: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw EngineError("cannot write \(path): the folder \(folder) does not exist")
        }
        let name = (path as NSString).lastPathComponent
        let temporary = folder + "/." + name + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EngineError("cannot write \(path): cannot create a file in \(folder): \(errnoText())") }
        var isOpen = true
        do {
            try produce { chunk in try writeAll(fd, chunk, path) }
            guard fsync(fd) == 0 else { throw EngineError("cannot write \(path): flushing to disk failed: \(errnoText())") }
            isOpen = false
            guard close(fd) == 0 else { throw EngineError("cannot write \(path): closing failed: \(errnoText())") }
            guard rename(temporary, path) == 0 else {
                throw EngineError("cannot write \(path): renaming the finished file into place failed: \(errnoText())")
            }
        } catch {
            if isOpen { close(fd) }
            unlink(temporary)
            throw error
        }
        // Make the rename itself durable; failure here loses nothing already visible.
        let dirfd = open(folder, O_RDONLY | O_CLOEXEC)
        if dirfd >= 0 {
            fsync(dirfd)
            close(dirfd)
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], _ path: String) throws {
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = systemWrite(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw EngineError("cannot write \(path): \(errnoText())")
                }
                done += n
            }
        }
    }

    private static func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(fd, buffer, count)
        #else
        return Darwin.write(fd, buffer, count)
        #endif
    }

    private static func parentFolder(of path: String) -> String {
        let parent = (path as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
