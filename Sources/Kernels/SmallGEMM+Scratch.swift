#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The per-thread packing panel of `SmallGEMM`: allocated on a thread's first call, reused by
/// every later call on that thread, freed when the thread exits. Calls on different threads
/// never share it, and one call never needs two panels at once.
enum GEMMScratch {
    /// Floats in a panel: `SmallGEMM.kChunk` rows of 32.
    static let panelFloats = SmallGEMM.kChunk * 32

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { free($0) }
        precondition(status == 0, "SmallGEMM: pthread_key_create failed (\(status))")
        return key
    }()

    /// This thread's panel (64-byte aligned, `panelFloats` floats).
    static var panel: UnsafeMutablePointer<Float> {
        let key = self.key
        if let existing = pthread_getspecific(key) {
            return existing.assumingMemoryBound(to: Float.self)
        }
        var raw: UnsafeMutableRawPointer?
        let status = posix_memalign(&raw, 64, panelFloats * MemoryLayout<Float>.stride)
        precondition(status == 0 && raw != nil, "SmallGEMM: cannot allocate the packing panel")
        pthread_setspecific(key, raw)
        return raw!.bindMemory(to: Float.self, capacity: panelFloats)
    }
}
