import Foundation

/// Errors raised by the engine. Every message names what is wrong in words a user can act on.
public struct EngineError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Raw float32 memory shared by a tensor and its views (Torch's `Storage`).
public final class TensorStorage {
    public private(set) var base: UnsafeMutablePointer<Float>
    public private(set) var capacity: Int

    public init(capacity: Int) {
        self.capacity = Swift.max(capacity, 0)
        base = .allocate(capacity: Swift.max(self.capacity, 1))
        base.initialize(repeating: 0, count: Swift.max(self.capacity, 1))
    }

    /// Grows the storage to at least `n` floats; contents are not kept.
    func reserve(_ n: Int) {
        guard n > capacity else { return }
        base.deallocate()
        base = .allocate(capacity: n)
        base.initialize(repeating: 0, count: n)
        capacity = n
    }

    deinit { base.deallocate() }
}

/// A contiguous float32 tensor (row-major, NCHW for images) with reference semantics like
/// Torch's: `view` and `weight` accessors share memory, `clone` copies.
public final class Tensor {
    public private(set) var storage: TensorStorage
    public private(set) var offset: Int
    public private(set) var shape: [Int]
    public private(set) var count: Int

    /// A zero-filled tensor of the given shape.
    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        storage = TensorStorage(capacity: count)
        offset = 0
    }

    /// An empty tensor (no dimensions, no elements), the state of a module's buffers before use.
    public convenience init() { self.init(shape: [0]) }

    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    public convenience init(shape: [Int], repeating value: Float) {
        self.init(shape: shape)
        fill(value)
    }

    /// A view of `storage` starting at `offset`.
    public init(storage: TensorStorage, offset: Int, shape: [Int]) {
        let n = shape.reduce(1, *)
        precondition(offset + n <= storage.capacity || n == 0, "view out of range")
        self.storage = storage
        self.offset = offset
        self.shape = shape
        count = n
    }

    @inline(__always) public var data: UnsafeMutablePointer<Float> { storage.base + offset }
    @inline(__always) public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: data, count: count)
    }
    public var dim: Int { shape.count }
    public var scalars: [Float] { Array(buffer) }

    public func size(_ d: Int) -> Int { shape[d] }

    /// Reshapes in place, reallocating only when the storage is too small. Contents are
    /// undefined afterwards when the count grows. Used for per-batch buffers that are reused.
    @discardableResult
    public func resize(_ newShape: [Int]) -> Tensor {
        if newShape == shape { return self }
        let n = newShape.reduce(1, *)
        if offset + n > storage.capacity {
            if offset == 0 && isKnownUniquelyReferenced(&storage) {
                storage.reserve(n)
            } else {
                storage = TensorStorage(capacity: n)
                offset = 0
            }
        }
        shape = newShape
        count = n
        return self
    }

    /// Resizes to the shape of `other`.
    @discardableResult
    public func resize(as other: Tensor) -> Tensor { resize(other.shape) }

    /// A tensor sharing this one's memory with another shape of the same element count.
    /// One dimension may be -1 and is inferred.
    public func view(_ newShape: [Int]) throws -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            guard known > 0, count % known == 0 else {
                throw EngineError("cannot view a tensor of \(count) elements as \(newShape)")
            }
            s[i] = count / known
        }
        guard s.allSatisfy({ $0 >= 0 }), s.reduce(1, *) == count else {
            throw EngineError("cannot view a tensor of shape \(shapeString(shape)) (\(count) elements) as \(shapeString(newShape))")
        }
        return Tensor(storage: storage, offset: offset, shape: s)
    }

    /// The `i`-th slice along the first dimension, sharing memory (Torch's `select(1, i)`, 0-based here).
    public func slice(_ i: Int) -> Tensor {
        precondition(dim >= 1 && i >= 0 && i < shape[0])
        let inner = Array(shape.dropFirst())
        let n = inner.reduce(1, *)
        return Tensor(storage: storage, offset: offset + i * n, shape: inner)
    }

    /// Rows `range` along the first dimension, sharing memory.
    public func narrow(_ range: Range<Int>) -> Tensor {
        precondition(dim >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0])
        let n = count / Swift.max(shape[0], 1)
        var s = shape
        s[0] = range.count
        return Tensor(storage: storage, offset: offset + range.lowerBound * n, shape: s)
    }

    public func clone() -> Tensor {
        let t = Tensor(shape: shape)
        t.data.update(from: data, count: count)
        return t
    }

    @inline(__always) public subscript(i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }

    /// Copies `other`'s elements (same element count required).
    public func copy(from other: Tensor) {
        precondition(other.count == count, "copy of \(other.count) elements into \(count)")
        data.update(from: other.data, count: count)
    }

    public func sameShape(_ other: Tensor) -> Bool { shape == other.shape }
}

public func shapeString(_ s: [Int]) -> String { s.map(String.init).joined(separator: "x") }

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: " ")
        return "Tensor[\(shapeString(shape))](\(shown)\(count > 8 ? " ..." : ""))"
    }
}
