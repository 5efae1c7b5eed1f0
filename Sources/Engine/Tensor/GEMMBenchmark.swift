import Foundation
import Kernels

/// The matrix products of the nets' training steps, timed one thread at a time: the engine's
/// own kernels (`SmallGEMM`) against OpenBLAS on the same shapes, and which one
/// `BLAS.gemm`'s routing picks. Best of `repeats` runs of enough calls for ~20 ms each, so a
/// busy machine costs accuracy only when it never leaves a core free.
public enum GEMMBenchmark {
    /// One product C[m×n] = op(A) · op(B) of a named layer's step.
    public struct Shape: Codable {
        public var name: String
        public var m: Int, n: Int, k: Int
        public var transA: Bool, transB: Bool
    }

    public struct Result: Codable {
        public var shape: Shape
        public var smallGFLOPS: Double
        public var openBLASGFLOPS: Double
        public var routedToSmallGEMM: Bool
    }

    /// The fully connected layers' three products (forward A·Wᵀ, input gradient G·W, weight
    /// gradient Gᵀ·X) for LeNet-300-100 at batch 100 (the IMP runs) and LeNet-5's 2400 → 120
    /// layer at batch 128, and three convolutions' products.
    public static let shapes: [Shape] = {
        var s: [Shape] = []
        func linear(_ name: String, batch: Int, inputs: Int, outputs: Int) {
            s.append(Shape(name: "\(name) forward", m: batch, n: outputs, k: inputs, transA: false, transB: true))
            s.append(Shape(name: "\(name) input gradient", m: batch, n: inputs, k: outputs, transA: false, transB: false))
            s.append(Shape(name: "\(name) weight gradient", m: outputs, n: inputs, k: batch, transA: true, transB: false))
        }
        linear("784→300 (b100)", batch: 100, inputs: 784, outputs: 300)
        linear("300→100 (b100)", batch: 100, inputs: 300, outputs: 100)
        linear("2400→120 (b128)", batch: 128, inputs: 2400, outputs: 120)
        // A convolution's products on its unfolded input, columns [K, n]: forward W·columns,
        // weight gradient ∂Y·columnsᵀ, input gradient Wᵀ·∂Y (conv48-2's 3x3 layers: 64→64 on
        // 24x24 planes in padded-width rows, 256→256 on 6x6 and 512→512 on 3x3 in image groups).
        func convolution(_ name: String, outputs: Int, k: Int, columns: Int) {
            s.append(Shape(name: "\(name) forward", m: outputs, n: columns, k: k, transA: false, transB: false))
            s.append(Shape(name: "\(name) weight gradient", m: outputs, n: k, k: columns, transA: false, transB: true))
            s.append(Shape(name: "\(name) input gradient", m: k, n: columns, k: outputs, transA: true, transB: false))
        }
        convolution("conv 64→64 3x3 24²", outputs: 64, k: 576, columns: 24 * 26)
        convolution("conv 256→256 3x3 6² (G 15)", outputs: 256, k: 2304, columns: 36 * 15)
        convolution("conv 512→512 3x3 3² (G 57)", outputs: 512, k: 4608, columns: 9 * 57)
        return s
    }()

    /// Which shapes SmallGEMM's kernels take on this CPU (`SmallGEMM.wideVectors`).
    public static var kernelShapes: String { SmallGEMM.wideVectors ? "wide (AVX-512)" : "narrow (AVX2)" }

    public static func run(_ shapes: [Shape] = shapes, repeats: Int = 5) -> [Result] {
        shapes.map { s in
            var rng = RandomGenerator(seed: 1)
            let a = (0..<(s.m * s.k)).map { _ in rng.uniform(-1, 1) }
            let b = (0..<(s.k * s.n)).map { _ in rng.uniform(-1, 1) }
            var c = [Float](repeating: 0, count: s.m * s.n)
            let flops = 2.0 * Double(s.m * s.n * s.k)
            let calls = max(1, Int(2e7 * 20e-3 / flops * 50))   // ~20 ms at 50 GFLOP/s
            func time(_ product: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) -> Double {
                var best = Double.infinity
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            product(ap.baseAddress!, bp.baseAddress!, cp.baseAddress!)   // warm-up
                            for _ in 0..<repeats {
                                let t0 = DispatchTime.now().uptimeNanoseconds
                                for _ in 0..<calls { product(ap.baseAddress!, bp.baseAddress!, cp.baseAddress!) }
                                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9 / Double(calls))
                            }
                        }
                    }
                }
                return flops / best * 1e-9
            }
            let lda = s.transA ? s.m : s.k, ldb = s.transB ? s.k : s.n
            let small = time { SmallGEMM.gemm(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, a: $0, lda: lda, b: $1, ldb: ldb, c: $2, ldc: s.n) }
            let blas = time { BLAS.openBLAS(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, alpha: 1, a: $0, lda: lda, b: $1, ldb: ldb, beta: 0, c: $2, ldc: s.n) }
            return Result(shape: s, smallGFLOPS: small, openBLASGFLOPS: blas,
                          routedToSmallGEMM: BLAS.prefersSmallGEMM(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k))
        }
    }
}
