import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads for inputs that come from users: model files and datasets.
///
/// Only regular files are read (a FIFO, a device such as /dev/zero or a folder is refused
/// with a message instead of blocking or growing without end), at most `maxBytes`, straight
/// into one buffer of the file's size (no second copy).
public enum FileBytes {
    /// Files larger than this are refused (64 GiB).
    public static let maxBytes = 1 << 36

    /// The bytes of the regular file at `path`; errors name the path and the reason.
    /// `kind` ("a model file", "a data file") completes the message for a folder.
    public static func read(_ path: String, kind: String = "a file") throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let reason = errno == ENOENT ? "no such file" : errno == EACCES ? "cannot be read (permission denied)" : "cannot be opened: \(errnoText())"
            throw EngineError("\(path): \(reason)")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw EngineError("\(path): cannot be read: \(errnoText())") }
        let type = info.st_mode & S_IFMT
        guard type != S_IFDIR else { throw EngineError("\(path): is a folder, not \(kind)") }
        guard type == S_IFREG else { throw EngineError("\(path): is not a regular file (a device, pipe or socket), so it is not \(kind)") }
        let size = Int(info.st_size)
        guard size <= maxBytes else {
            throw EngineError("\(path): \(size) bytes is over the limit of \(maxBytes) bytes for \(kind)")
        }
        return try [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = 0
            while count < size {
                let n = Glibc.read(fd, buffer.baseAddress! + count, size - count)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw EngineError("\(path): reading failed after \(count) of \(size) bytes: \(n == 0 ? "the file shrank" : errnoText())")
                }
                count += n
            }
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
