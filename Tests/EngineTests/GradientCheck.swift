import XCTest
@testable import Engine

/// Finite-difference gradient checks, the workbench's `nn.Jacobian`.
///
/// A module is reduced to the scalar L(x, θ) = Σ_i y_i R_i with y = module(x) and a fixed
/// random R, so that backward(x, R) must return ∂L/∂x and accumulate ∂L/∂θ. Each entry is
/// compared with the central difference
///
///   ∂L/∂z ≈ (L(z + h) - L(z - h)) / (h₊ + h₋),
///
/// where h₊, h₋ are the steps actually taken after rounding z ± h to float32, and L is
/// accumulated in double precision. An entry passes when
/// |analytic - numeric| ≤ rtol · max(|analytic|, |numeric|) + atol.
enum GradientCheck {
    /// The comparison for one tensor (the input or one parameter).
    struct Report: CustomStringConvertible {
        let name: String
        let count: Int
        /// Largest |analytic - numeric| / (rtol · max(|a|, |n|) + atol): ≤ 1 passes.
        let worstRatio: Double
        let worstIndex: Int
        let analytic: Double
        let numeric: Double
        let largestNumeric: Double

        var passed: Bool { worstRatio <= 1 }

        var description: String {
            "\(name) (\(count) entries): worst at \(worstIndex): analytic \(analytic), numeric \(numeric) " +
                "(\(String(format: "%.2f", worstRatio)) of the tolerance; largest |numeric| \(largestNumeric))"
        }
    }

    struct Tolerance {
        var step: Double = 1e-2
        var rtol: Double = 1e-2
        var atol: Double = 2e-3
    }

    /// Central differences of `loss` with respect to every entry of `tensor` (restored after).
    static func numericGradient(of tensor: Tensor, step: Double, _ loss: () throws -> Double) rethrows -> [Double] {
        let p = tensor.data
        var result = [Double](repeating: 0, count: tensor.count)
        for i in 0..<tensor.count {
            let original = p[i]
            p[i] = Float(Double(original) + step)
            let up = Double(p[i]) - Double(original)
            let lossUp = try loss()
            p[i] = Float(Double(original) - step)
            let down = Double(original) - Double(p[i])
            let lossDown = try loss()
            p[i] = original
            result[i] = (lossUp - lossDown) / (up + down)
        }
        return result
    }

    static func compare(_ name: String, analytic: [Float], numeric: [Double], _ tol: Tolerance) -> Report {
        precondition(analytic.count == numeric.count, "\(name): \(analytic.count) analytic vs \(numeric.count) numeric entries")
        var worst = (ratio: 0.0, index: 0)
        for i in analytic.indices {
            let a = Double(analytic[i]), n = numeric[i]
            let ratio = Swift.abs(a - n) / (tol.rtol * Swift.max(Swift.abs(a), Swift.abs(n)) + tol.atol)
            if !(ratio <= worst.ratio) { worst = (ratio.isNaN ? .infinity : ratio, i) }
        }
        let i = worst.index
        return Report(name: name, count: analytic.count, worstRatio: worst.ratio, worstIndex: i,
                      analytic: analytic.isEmpty ? 0 : Double(analytic[i]), numeric: numeric.isEmpty ? 0 : numeric[i],
                      largestNumeric: numeric.map { Swift.abs($0) }.max() ?? 0)
    }

    /// Checks ∂L/∂x and ∂L/∂θ of `module` at `input`: the first report is the input's, then one
    /// per parameter in `module.allParameters` order.
    static func check(_ module: Module, input: Tensor, seed: UInt64 = 1, _ tol: Tolerance = Tolerance()) throws -> [Report] {
        let x = input.clone()
        let y = try module.forward(x)
        var rng = RandomGenerator(seed: seed)
        let r = Tensor(shape: y.shape)
        r.fillUniform(-1, 1, &rng)

        module.zeroGradParameters()
        _ = try module.forward(x)
        let gradInput = try module.backward(x, r).scalars
        let parameterGrads = module.allParameters.map(\.grad.scalars)

        let loss = { try module.forward(x).dot(r) }
        var reports = [compare("input", analytic: gradInput, numeric: try numericGradient(of: x, step: tol.step, loss), tol)]
        for (k, p) in module.allParameters.enumerated() {
            let numeric = try numericGradient(of: p.value, step: tol.step, loss)
            reports.append(compare("\(p.name) #\(k + 1)", analytic: parameterGrads[k], numeric: numeric, tol))
        }
        return reports
    }

    /// Checks ∂L/∂x and ∂L/∂θ of a module whose input or output is a table: L = Σ_k y_k · R_k
    /// over the output's tensors (depth first). Reports: one per input tensor ("input k"),
    /// then one per parameter.
    static func check(_ module: Module, activation input: Activation, seed: UInt64 = 1,
                      _ tol: Tolerance = Tolerance()) throws -> [Report] {
        let x = input.clone()
        let y = try module.forward(x)
        var rng = RandomGenerator(seed: seed)
        let r = y.zerosLike()
        for t in r.flattened { t.fillUniform(-1, 1, &rng) }

        module.zeroGradParameters()
        _ = try module.forward(x)
        let gradInput = try module.backward(x, r).flattened.map(\.scalars)
        let parameterGrads = module.allParameters.map(\.grad.scalars)

        let loss = { () throws -> Double in
            let out = try module.forward(x).flattened
            return zip(out, r.flattened).reduce(0) { $0 + $1.0.dot($1.1) }
        }
        var reports = [Report]()
        for (k, t) in x.flattened.enumerated() {
            reports.append(compare("input \(k + 1)", analytic: gradInput[k], numeric: try numericGradient(of: t, step: tol.step, loss), tol))
        }
        for (k, p) in module.allParameters.enumerated() {
            reports.append(compare("\(p.name) #\(k + 1)", analytic: parameterGrads[k], numeric: try numericGradient(of: p.value, step: tol.step, loss), tol))
        }
        return reports
    }

    /// Checks ∂loss/∂input of a criterion.
    static func check(_ criterion: Criterion, input: Tensor, target: Tensor, _ tol: Tolerance = Tolerance()) throws -> Report {
        let x = input.clone()
        _ = try criterion.forward(x, target)
        let analytic = try criterion.backward(x, target).scalars
        let numeric = try numericGradient(of: x, step: tol.step) { Double(try criterion.forward(x, target)) }
        return compare("input", analytic: analytic, numeric: numeric, tol)
    }
}

/// Test inputs.
enum TestData {
    /// 8x8 images; class k (of 4, in 10 classes) lights row 2k, plus seeded noise: a problem
    /// small nets learn in a few epochs.
    static func brightRows(_ n: Int, seed: UInt64) throws -> Dataset {
        var rng = RandomGenerator(seed: seed)
        var px = [UInt8](), lb = [Int32]()
        for _ in 0..<n {
            let k = Int(rng.next() % 4)
            for r in 0..<8 { for _ in 0..<8 { px.append(UInt8(r == 2 * k ? 150 + Int(rng.next() % 100) : Int(rng.next() % 90))) } }
            lb.append(Int32(k))
        }
        return try Dataset(name: "synthetic", pixels: px, labels: lb, channels: 1, height: 8, width: 8, classes: 10)
    }

    /// Uniform values in [lo, hi).
    static func uniform(_ shape: [Int], _ lo: Float = -1, _ hi: Float = 1, seed: UInt64 = 7) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        let t = Tensor(shape: shape)
        t.fillUniform(lo, hi, &rng)
        return t
    }

    /// Distinct values at least `spacing` apart, none within spacing/2 of 0, in random order:
    /// finite differences never cross a kink of max or ReLU.
    static func spaced(_ shape: [Int], spacing: Float = 0.05, seed: UInt64 = 7) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        let t = Tensor(shape: shape)
        let n = t.count
        for (i, k) in rng.permutation(n).enumerated() { t[i] = (Float(k) - Float(n) / 2 + 0.5) * spacing }
        return t
    }
}

extension XCTestCase {
    /// Asserts that every gradient of `module` at the (table) `input` matches finite differences.
    func assertGradients(_ module: Module, activation input: Activation, _ tol: GradientCheck.Tolerance = .init(),
                         _ label: String = "", file: StaticString = #filePath, line: UInt = #line) {
        do {
            let reports = try GradientCheck.check(module, activation: input, tol)
            XCTAssertEqual(reports.count, input.flattened.count + module.allParameters.count, file: file, line: line)
            for r in reports {
                XCTAssertTrue(r.passed, "\(label.isEmpty ? module.description : label): \(r)", file: file, line: line)
            }
        } catch {
            XCTFail("\(label.isEmpty ? module.description : label): \(error)", file: file, line: line)
        }
    }

    /// Asserts that every gradient of `module` at `input` matches finite differences.
    func assertGradients(_ module: Module, _ input: Tensor, _ tol: GradientCheck.Tolerance = .init(),
                         _ label: String = "", file: StaticString = #filePath, line: UInt = #line) {
        do {
            let reports = try GradientCheck.check(module, input: input, tol)
            XCTAssertEqual(reports.count, 1 + module.allParameters.count, file: file, line: line)
            for r in reports {
                XCTAssertTrue(r.passed, "\(label.isEmpty ? module.description : label): \(r)", file: file, line: line)
            }
        } catch {
            XCTFail("\(label.isEmpty ? module.description : label): \(error)", file: file, line: line)
        }
    }

    func assertGradients(_ criterion: Criterion, _ input: Tensor, _ target: Tensor, _ tol: GradientCheck.Tolerance = .init(),
                         _ label: String = "", file: StaticString = #filePath, line: UInt = #line) {
        do {
            let r = try GradientCheck.check(criterion, input: input, target: target, tol)
            XCTAssertTrue(r.passed, "\(label.isEmpty ? criterion.typeName : label): \(r)", file: file, line: line)
        } catch {
            XCTFail("\(label.isEmpty ? criterion.typeName : label): \(error)", file: file, line: line)
        }
    }
}
