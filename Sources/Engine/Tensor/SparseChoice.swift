import Foundation
import Kernels

/// When the layers run their weights as sparse rows (`Kernels.SparseRows`) instead of a dense
/// product: in evaluation only, when the weight has a mask (a pruned layer) or was found sparse
/// the last time, and the rule below says the sparse product is faster; and for a stride-1
/// convolution of few output planes at a batch of blocks, pruned or not (`fewPlanes`). The sparse rows are
/// built from the effective weights at every forward pass (one pass over them, as applying the
/// mask is), so they can never be stale: any write into the weights or the mask is seen.
///
/// The rule, from `workbench bench --sparse` on this project's machine (docs/sparse.md): the
/// sparse product wins below these densities (nonzeros / entries).
public enum SparseChoice {
    /// A linear layer (`multiplyTransposed`): up to 25% (at 30% it gains 1.1-1.2x only), from
    /// a batch of 16 (below it, the pass that builds the sparse rows costs more than the dense
    /// product it saves).
    public static let linearDensity = 0.25
    public static let linearMinimumBatch = 16
    /// A convolution on its unfolded input (`multiply`): up to 40% (1.3-1.6x at 30%; at 50%
    /// it loses at batch 1).
    public static let convolutionDensity = 0.4
    /// A stride-1 convolution with at most this many output planes runs on the sparse rows at
    /// any density, pruned or not, once each thread has a block of images
    /// (`SampleLaneConvolution.lanes` per thread): its dense product has so few rows (6 in
    /// LeNet-5's first layer) that the GEMM's tiles run mostly empty, where an image per lane
    /// computes the real outputs only (`bench --sparse`, LeNet-5's first convolution at batch
    /// 1000: 1.7x at 0% sparsity, 2.6x at 50%; at batch 1, 0.6x and 1.0x, so there the density
    /// rule stays).
    public static let fewPlanes = 8

    /// Whether a stride-1 convolution of `planes` output planes (nil: another layer) at `batch`
    /// runs an image per lane whatever its density (`fewPlanes`).
    static func lanesWin(planes: Int?, batch: Int) -> Bool {
        guard let planes else { return false }
        return planes <= fewPlanes && batch >= SampleLaneConvolution.lanes * Parallel.threads
    }

    /// Tests and benchmarks force a path: nil follows the rule, true always sparse (in
    /// evaluation), false always dense. The environment variable WORKBENCH_SPARSE=dense (or
    /// =sparse) sets it for a whole run.
    nonisolated(unsafe) public static var forced: Bool? = {
        switch ProcessInfo.processInfo.environment["WORKBENCH_SPARSE"] {
        case "dense": return false
        case "sparse": return true
        default: return nil
        }
    }()

    /// Training with sparse rows (`Linear.sparseTraining`, opt-in per layer, since the weight
    /// gradient is then computed at the mask's active entries only): a masked linear layer
    /// whose mask keeps at most this fraction of its entries. From `workbench bench
    /// --sparse-training --sparsity s` (docs/sparse.md), one thread, an epoch of mnist_mlp:
    /// 2.2x at 2% density, 1.33x at 5%, 1.04x at 10%, 0.59x at 20%.
    public static let linearTrainingDensity = 0.05

    /// Forces the path of the layers that opted into sparse training: nil follows the rule,
    /// true always sparse (when the weight has a mask), false always dense. From the
    /// environment variable WORKBENCH_SPARSE_TRAINING=dense (or =sparse), else as `forced`
    /// (WORKBENCH_SPARSE).
    nonisolated(unsafe) public static var forcedTraining: Bool? = {
        switch ProcessInfo.processInfo.environment["WORKBENCH_SPARSE_TRAINING"] {
        case "dense": return false
        case "sparse": return true
        default: return forced
        }
    }()

    /// The rule for a layer that opted into sparse training, its mask keeping this density.
    public static func prefersSparseTraining(density: Double) -> Bool {
        if let forcedTraining { return forcedTraining }
        return density <= linearTrainingDensity
    }

    public enum Kind { case linear, convolution }

    /// The rule for a layer of `kind` whose weight has this density, at a batch of `batch`;
    /// with the weights frozen (`withFrozenWeights`) the rows are built once for every batch,
    /// so a linear layer's minimum batch does not apply.
    /// `lanePlanes`: a stride-1 convolution's output planes (it can run an image per lane).
    public static func prefersSparse(_ kind: Kind, density: Double, batch: Int, frozen: Bool = false, lanePlanes: Int? = nil) -> Bool {
        if let forced { return forced }
        switch kind {
        case .linear: return density <= linearDensity && (frozen || batch >= linearMinimumBatch)
        case .convolution:
            return lanesWin(planes: lanePlanes, batch: batch) || density <= convolutionDensity
        }
    }

    /// The depth of the `withFrozenWeights` scopes running, and the number of the outermost.
    nonisolated(unsafe) private static var frozenDepth = 0
    nonisolated(unsafe) private static var frozenScope: UInt64 = 0

    /// Runs `body` as a scope in which no weight and no mask changes (an evaluation loop, a
    /// timed inference): a layer builds its sparse rows at its first forward pass in the scope
    /// and reuses them at the others, which makes them pay off at any batch size (batch 1
    /// included). Nothing that writes a weight may run inside; scopes nest (the outermost
    /// counts), and each new one builds the rows anew.
    public static func withFrozenWeights<T>(_ body: () throws -> T) rethrows -> T {
        if frozenDepth == 0 { frozenScope &+= 1 }
        frozenDepth += 1
        defer { frozenDepth -= 1 }
        return try body()
    }

    /// The number of the frozen-weights scope running, nil outside one.
    static var frozen: UInt64? { frozenDepth > 0 ? frozenScope : nil }

    /// Whether to build sparse rows for `p` at all (a pruned weight, one sparse last time, or a
    /// few-plane convolution's at a batch of blocks).
    static func isCandidate(_ p: Parameter, hint: Bool, lanePlanes: Int? = nil, batch: Int = 0) -> Bool {
        if let forced { return forced }
        return p.mask != nil || hint || lanesWin(planes: lanePlanes, batch: batch)
    }
}

/// A layer's sparse form of its weight for one forward pass, and what it learnt for the next.
final class SparseWeightCache {
    /// The last forward pass found the weight sparse enough to try again.
    var hint = false
    /// The choice made in a frozen-weights scope (its number), for the scope's other passes.
    private var frozenChoice: (scope: UInt64, rows: SparseRows?)?

    /// The weight as sparse rows [rows × columns] when the rule prefers them, else nil; in a
    /// frozen-weights scope, the choice of its first pass.
    func rows(_ p: Parameter, _ kind: SparseChoice.Kind, rows: Int, columns: Int, batch: Int, lanePlanes: Int? = nil) -> SparseRows? {
        let scope = SparseChoice.frozen
        if let scope, let c = frozenChoice, c.scope == scope { return c.rows }
        let chosen = choose(p, kind, rows: rows, columns: columns, batch: batch, frozen: scope != nil, lanePlanes: lanePlanes)
        frozenChoice = scope.map { ($0, chosen) }
        return chosen
    }

    private func choose(_ p: Parameter, _ kind: SparseChoice.Kind, rows: Int, columns: Int, batch: Int, frozen: Bool, lanePlanes: Int?) -> SparseRows? {
        guard SparseChoice.isCandidate(p, hint: hint, lanePlanes: lanePlanes, batch: batch) else { return nil }
        if SparseChoice.forced == nil && kind == .linear && batch < SparseChoice.linearMinimumBatch && !frozen { return nil }
        // Counting the nonzeros first costs a read of the weights; the sparse rows (arrays of
        // values and columns) are built only when they will be used.
        let nonzeros = rows * columns - p.value.zeroCount()
        let density = Double(nonzeros) / Double(Swift.max(rows * columns, 1))
        hint = density <= (kind == .linear ? SparseChoice.linearDensity : SparseChoice.convolutionDensity)
        guard SparseChoice.prefersSparse(kind, density: density, batch: batch, frozen: frozen, lanePlanes: lanePlanes) else { return nil }
        return SparseRows(dense: p.value.data, rows: rows, columns: columns)
    }

    /// In training (a layer that opted in): the effective weight at its mask's active entries
    /// (zeros included) when the rule prefers them, else nil. Never for a weight without a
    /// mask (its zeros would get no gradient) or with scores (their straight-through gradient
    /// reads the gradient under the mask). The layout of the entries is the parameter's
    /// `activePattern`, read anew only when the mask changed; the parameter's `stepEntries`
    /// says which entries this step trains (nil on the dense path).
    func trainingRows(_ p: Parameter, rows: Int, columns: Int, maskVerified: Bool = false) -> SparseRows? {
        guard p.scores == nil, let pattern = p.activePattern(rows: rows, columns: columns, verified: maskVerified),
              SparseChoice.prefersSparseTraining(density: Double(pattern.count) / Double(Swift.max(rows * columns, 1))) else {
            p.stepEntries = nil
            return nil
        }
        p.stepEntries = pattern
        return SparseRows(dense: p.value.data, rows: rows, columns: columns, rowStart: pattern.rowStart, columnIndex: pattern.columnIndex)
    }
}
