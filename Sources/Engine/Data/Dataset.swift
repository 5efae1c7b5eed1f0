/// Images and labels held as bytes (a 60k-image MNIST is 47 MB this way, 188 MB as floats).
/// Pixels become floats only per batch, scaled as the reference tool did: x = byte / 256.
public final class Dataset {
    public let name: String
    /// N·C·H·W bytes, image-major.
    public let pixels: [UInt8]
    /// 0-based class of each image.
    public let labels: [Int32]
    public let channels: Int
    public let height: Int
    public let width: Int
    public let classes: Int

    public var count: Int { labels.count }
    public var imageSize: Int { channels * height * width }

    public init(name: String, pixels: [UInt8], labels: [Int32], channels: Int, height: Int, width: Int, classes: Int) throws {
        guard pixels.count == labels.count * channels * height * width else {
            throw EngineError("\(name): \(pixels.count) pixel bytes for \(labels.count) images of \(channels)x\(height)x\(width)")
        }
        if let bad = labels.first(where: { $0 < 0 || Int($0) >= classes }) {
            throw EngineError("\(name): label \(bad) outside 0..\(classes - 1)")
        }
        self.name = name
        self.pixels = pixels
        self.labels = labels
        self.channels = channels
        self.height = height
        self.width = width
        self.classes = classes
    }

    /// The first `n` images (all when `n` is nil or not smaller than `count`).
    public func prefix(_ n: Int?) -> Dataset {
        guard let n, n < count else { return self }
        let k = Swift.max(n, 0)
        return try! Dataset(name: name, pixels: Array(pixels[0..<(k * imageSize)]), labels: Array(labels[0..<k]),
                            channels: channels, height: height, width: width, classes: classes)
    }

    /// The last `n` images (all of them when n >= count): the validation split the original's
    /// `--validate-set` takes from the end of the training set.
    public func suffix(_ n: Int) -> Dataset {
        guard n < count else { return self }
        let k = Swift.max(n, 0), first = count - k
        return try! Dataset(name: name, pixels: Array(pixels[(first * imageSize)...]), labels: Array(labels[first...]),
                            channels: channels, height: height, width: width, classes: classes)
    }

    /// The images at `indices` as a [n, C, H, W] float tensor (x = byte/256) and their labels
    /// as a [n] tensor of 0-based classes. `inputs` and `targets` are resized and reused.
    public func fillBatch<C: Collection>(_ indices: C, inputs: Tensor, targets: Tensor) where C.Element == Int {
        let n = indices.count, sz = imageSize
        inputs.resize([n, channels, height, width])
        targets.resize([n])
        let x = inputs.data, t = targets.data
        let rows = Array(indices)
        pixels.withUnsafeBufferPointer { px in
            labels.withUnsafeBufferPointer { lb in
                Parallel.forChunks(n, costPerItem: sz) { range in
                    var sink: UInt8 = 0
                    for r in range {
                        let i = rows[r]
                        // The images are drawn at random from tens of MB: touch each cache line
                        // of the next one first, so that its misses overlap this one's work.
                        if r + 1 < range.upperBound { sink |= Dataset.touch(px.baseAddress! + rows[r + 1] * sz, count: sz) }
                        let src = px.baseAddress! + i * sz
                        let dst = x + r * sz
                        for j in 0..<sz { dst[j] = Float(src[j]) * (1.0 / 256.0) }
                        t[r] = Float(lb[i])
                    }
                    if sink == 0x5A, let r = range.first { t[r] += 0 }   // keeps the touches (a label + 0 is itself)
                }
            }
        }
    }

    /// Reads one byte of every 64 in p[0..<count] (a prefetch by plain loads: their misses run
    /// while the caller goes on).
    @inline(__always) static func touch(_ p: UnsafePointer<UInt8>, count: Int) -> UInt8 {
        var sum: UInt8 = 0
        for o in stride(from: 0, to: count, by: 64) { sum |= p[o] }
        return sum
    }

    /// A seeded subset of `n` distinct images (order as drawn), e.g. a pruner's scoring set.
    public func randomSubset(_ n: Int, seed: UInt64) -> Dataset {
        if n >= count { return self }
        var rng = RandomGenerator(seed: seed)
        let idx = rng.permutation(count).prefix(n)
        var px = [UInt8](); px.reserveCapacity(n * imageSize)
        var lb = [Int32](); lb.reserveCapacity(n)
        for i in idx {
            px.append(contentsOf: pixels[(i * imageSize)..<((i + 1) * imageSize)])
            lb.append(labels[i])
        }
        return try! Dataset(name: "\(name) (subset of \(n))", pixels: px, labels: lb,
                            channels: channels, height: height, width: width, classes: classes)
    }
}
