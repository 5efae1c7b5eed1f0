import Foundation

/// FreezeOut (Brock, Lim, Ritchie, Weston 2017): each layer's learning rate is annealed to
/// zero on its own cosine schedule, then the layer is frozen, so that the backward pass stops
/// above it. Layers i = 0..L, from the input; layer L, the classifier, is never frozen.
///
/// - Freeze point: t_i = f(t_0 + (1 − t_0)·i/L), f(x) = x, x² or x³ (`Scaling`); t_L = 1
///   (with a single layer, L = 0: t_0 = 1).
/// - Learning rate at iteration j (from 0) of J: α_i(j) = ½·α_i(0)·(1 + cos(π·j/(t_i·J))),
///   α_i(0) = α/t_i when scaled, else α; from j ≥ t_i·J on (where α_i has reached 0) the
///   layer is frozen.
/// - Estimated speedup: 1 − C_f/C with C = 2·Σc_i (a forward and a backward of each layer
///   every iteration, the backward costing as much as the forward) and C_f = Σc_i + Σc_i·t_i
///   (the forward always, the backward for the fraction t_i of the run), c_i the layer's
///   forward FLOPs (`ForwardCost`). (The original's `calc_speedup` counts DenseNet layers
///   only and multiplies the linear case by 1.3; this is the formula without either.)
public enum FreezeOut {
    /// How the freeze points grow from t_0 to 1 across the layers.
    public enum Scaling: String, CaseIterable {
        case linear, squared, cubic

        /// f(x) = x, x² or x³.
        public func callAsFunction(_ x: Double) -> Double {
            switch self {
            case .linear: return x
            case .squared: return x * x
            case .cubic: return x * x * x
            }
        }
    }

    /// t_i for i = 0..<count: f(t_0 + (1 − t_0)·i/L), L = count − 1; the last is exactly 1.
    public static func freezePoints(layers count: Int, t0: Double, scaling: Scaling) throws -> [Double] {
        guard count >= 1 else { throw EngineError("FreezeOut needs at least one layer with weights") }
        guard t0.isFinite, t0 > 0, t0 <= 1 else { throw EngineError("t_0 must be in (0, 1], got \(t0)") }
        let L = count - 1
        return (0..<count).map { i in i == L ? 1 : scaling(t0 + (1 - t0) * Double(i) / Double(L)) }
    }

    /// α_i(0): α/t_i when `scaled`, else α.
    public static func initialRate(_ alpha: Double, freezePoint t: Double, scaled: Bool) -> Double {
        scaled ? alpha / t : alpha
    }

    /// α_i(j) = ½·α_i(0)·(1 + cos(π·j/(t_i·J))) for j < t_i·J, else 0 (the layer is frozen).
    public static func rate(initial a0: Double, freezePoint t: Double, iteration j: Int, of J: Int) -> Double {
        let end = t * Double(J)
        guard Double(j) < end else { return 0 }
        return 0.5 * a0 * (1 + Foundation.cos(Double.pi * Double(j) / end))
    }

    /// Whether layer i (of `count`) is frozen before iteration j of J: j ≥ t_i·J, never the last.
    public static func isFrozen(layer i: Int, of count: Int, freezePoint t: Double, iteration j: Int, of J: Int) -> Bool {
        i < count - 1 && Double(j) >= t * Double(J)
    }

    /// 1 − C_f/C, C = 2·Σc_i, C_f = Σc_i + Σc_i·t_i.
    public static func estimatedSpeedup(costs c: [Double], freezePoints t: [Double]) throws -> Double {
        guard c.count == t.count, !c.isEmpty else {
            throw EngineError("\(c.count) layer costs for \(t.count) freeze points")
        }
        let total = c.reduce(0, +)
        guard total > 0 else { throw EngineError("the layers cost no FLOPs") }
        let frozenRun = total + zip(c, t).reduce(0) { $0 + $1.0 * $1.1 }
        return 1 - frozenRun / (2 * total)
    }

    /// `--const_time`: the number of epochs that takes about as long as `epochs` without
    /// freezing, epochs / (1 − speedup) rounded to the nearest integer (halves up), at least
    /// `epochs`.
    public static func constantTimeEpochs(_ epochs: Int, speedup s: Double) -> Int {
        guard s > 0, s < 1 else { return epochs }
        return Swift.max(epochs, Int((Double(epochs) / (1 - s)).rounded(.toNearestOrAwayFromZero)))
    }

    /// The layers of `model`: ranges of its top-level modules (0-based). A layer starts at each
    /// module with parameters (a convolution, a linear layer, a block of them), except batch
    /// normalisation; the modules after it without parameters (activations, pooling, views,
    /// dropout) and batch normalisation belong to it, those before the first belong to the first.
    public static func layers(of model: Sequential) throws -> [ClosedRange<Int>] {
        let starts = model.modules.indices.filter { i in
            let m = model.modules[i]
            return !m.allParameters.isEmpty && !(m is BatchNormalization)
        }
        guard !starts.isEmpty else { throw EngineError("the model has no layer with weights to train") }
        return starts.indices.map { k in
            let lo = k == 0 ? 0 : starts[k]
            let hi = k + 1 < starts.count ? starts[k + 1] - 1 : model.modules.count - 1
            return lo...hi
        }
    }

    /// Each layer's forward FLOPs c_i for one image of `imageShape` ([C, H, W]).
    public static func layerCosts(of model: Sequential, layers: [ClosedRange<Int>], imageShape: [Int]) throws -> [Double] {
        let perModule = try ForwardCost.perModule(model, imageShape: imageShape)
        return layers.map { r in r.reduce(0) { $0 + perModule[$1] } }
    }
}
