import Kernels

/// A learnable tensor and its gradient, with the one reparametrisation point of every weight
/// (as PyTorch's `torch.nn.utils.prune`): stored weights W, an optional 0/1 mask M, and
/// optional scores s that choose M.
///
/// **Effective weights.** Layers read `value` = W_eff = W ⊙ M (PyTorch's `weight`). W itself
/// (PyTorch's `weight_orig`, `weights()`) is `value` where M = 1 and is kept aside where M = 0,
/// so what a mask removes is not lost: a weight masked and later let through again comes back
/// with its stored value. `applyMask` (every forward pass, every optimiser step) is the one
/// place that makes W_eff exactly 0 under the mask.
///
/// **Gradients.** Backward leaves `grad` = ∂L/∂W_eff, all of it (the masked entries too, as a
/// regrowth criterion needs); ∂L/∂W = ∂L/∂W_eff ⊙ M. An optimiser step moves W through the mask
/// only: it updates `value`, then `applyMask` puts the masked entries back to 0 (their stored
/// values are untouched) and `maskState` zeroes their momentum/moments, so a stale state
/// cannot move them once they are let through again.
///
/// **Scores** (edge-popup supermasks). With `scores`, M is the top-k of |s| (k = round(f · n)
/// for the kept fraction f, ties to the lower index, found by selection), recomputed from the
/// scores at every forward pass in training; backward gives the scores the straight-through
/// gradient ∂L/∂s = (∂L/∂W_eff ⊙ W) · sign(s). W can be frozen (`isFrozen`) while s trains.
public final class Parameter {
    /// "weight" or "bias" (the PyTorch state_dict suffix).
    public let name: String
    /// W_eff = W ⊙ M, what the layers read; W itself when there is no mask.
    public let value: Tensor
    /// ∂L/∂W_eff after a backward pass (accumulated, as in Torch).
    public let grad: Tensor
    public private(set) var mask: Tensor?
    /// W where M = 0 (meaningless where M = 1, unless `storedIsWhole`); nil without a mask.
    private var maskedValues: Tensor?
    /// Whether `maskedValues` holds W at every entry, W_eff = W ⊙ M: set by the reselection of
    /// a forward pass in training (which writes W everywhere), cleared by `applyMask` (after
    /// anything that may have written W_eff: an optimiser step, a pass in evaluation, a new
    /// mask) and by the first straight-through gradient that reads it (so it serves only the
    /// backward pass of that forward pass).
    private var storedIsWhole = false
    /// The threshold of the scores' top-k, helped by the last one (ScoreSelection.swift).
    var selection = ScoreSelection()
    /// The scores that choose the mask, a parameter of their own (named "<name>_scores") that
    /// optimisers train; nil without scores.
    public private(set) var scores: Parameter?
    /// The fraction of entries the scores keep (f above); nil without scores.
    public private(set) var keptFraction: Double?
    /// An optimiser leaves a frozen parameter as it is (its scores, if any, still train).
    public var isFrozen = false
    /// The layout of the mask's active entries as sparse training last read it
    /// (`activePattern`, MaskPattern.swift), reused while the mask is unchanged.
    var maskPattern: MaskPattern?
    /// Set by a layer whose forward pass in training ran on the mask's active entries alone
    /// (a Linear's sparse training path), nil after a dense pass: the gradient of this step
    /// exists at these entries only, and an optimiser may update just them (SGD).
    public internal(set) var stepEntries: MaskPattern?
    /// Set by a forward pass in training that applied the mask and, in the same pass, found it
    /// bit for bit the one `maskPattern` was read from (`applyMaskVerifyingPattern`); taken
    /// (and cleared) by the layer's own `updateOutput` right after, so that sparse training
    /// reads the mask once per pass instead of twice.
    var maskVerified = false
    /// The frozen-weights scope (`SparseChoice.withFrozenWeights`) in which a forward pass in
    /// evaluation last applied the mask: nothing writes a weight inside one, so the scope's
    /// other passes need not apply it again (it was a read and write of W and M, as much
    /// memory traffic as a batch-1 product itself).
    private var maskAppliedInScope: UInt64?

    public init(name: String, shape: [Int]) {
        self.name = name
        value = Tensor(shape: shape)
        grad = Tensor(shape: shape)
    }

    // MARK: masks

    /// Installs a 0/1 mask (copied): entries it newly removes are kept aside and zeroed,
    /// entries it lets through again get their stored values back.
    public func setMask(_ m: Tensor) throws {
        guard scores == nil else {
            throw EngineError("the mask of this \(name) is chosen by its scores; remove the scores before setting a mask")
        }
        try checkMask(m)
        install(m)
    }

    /// Drops the mask: every weight gets its stored value back (W_eff = W). Scores go too.
    public func removeMask() {
        maskVerified = false
        scores = nil
        keptFraction = nil
        maskPattern = nil
        stepEntries = nil
        guard let m = mask?.data, let kept = maskedValues?.data else { return }
        let x = value.data
        for i in 0..<value.count where m[i] == 0 { x[i] = kept[i] }
        mask = nil
        maskedValues = nil
    }

    /// W_eff = 0 (+0, whatever the sign of what was there) where the mask is 0: the one place
    /// this rule lives.
    @inline(__always) public func applyMask() {
        storedIsWhole = false
        if let m = mask { Parameter.zero(value, where: m) }
    }

    /// t = 0 where the mask is 0, for optimiser state shaped like the parameter: no momentum
    /// under the mask.
    @inline(__always) public func maskState(_ t: Tensor) { if let m = mask { Parameter.zero(t, where: m) } }

    /// t[i] = +0 where m[i] = 0 (a select, so the zeros are positive and the loop vectorises),
    /// split across the engine's threads (elementwise: the same bits for any split).
    private static func zero(_ t: Tensor, where m: Tensor) {
        let x = t.data, k = m.data
        Parallel.forChunks(t.count, costPerItem: 1) { r in
            for i in r { x[i] = k[i] == 0 ? 0 : x[i] }
        }
    }

    /// Prepares W_eff for a forward pass: in training, scores choose the mask anew; then the
    /// mask is applied (a hook may have written under it).
    @inline(__always) public func prepareForward(training: Bool) throws {
        maskVerified = false
        if training, scores != nil { try chooseMaskFromScores(); return }   // it applies the mask
        if training, let pattern = maskPattern, let m = mask {
            storedIsWhole = false
            maskVerified = pattern.applyMask(m, to: value)
            return
        }
        if !training, let scope = SparseChoice.frozen {
            if maskAppliedInScope == scope { return }
            maskAppliedInScope = scope
        }
        applyMask()
    }

    /// Whether the forward pass that just ran `prepareForward` found the mask unchanged since
    /// `maskPattern` read it; false after any other call (it is taken once).
    func takeMaskVerification() -> Bool {
        defer { maskVerified = false }
        return maskVerified
    }

    /// Number of entries the mask removes (0 without a mask).
    public var prunedCount: Int { mask.map { $0.zeroCount() } ?? 0 }

    // MARK: the stored weights W

    /// W (PyTorch's weight_orig): the effective weights with the stored values under the mask
    /// (a new tensor).
    public func weights() -> Tensor {
        let w = value.clone()
        if let m = mask?.data, let kept = maskedValues?.data {
            let x = w.data
            for i in 0..<w.count where m[i] == 0 { x[i] = kept[i] }
        }
        return w
    }

    /// W = `w` (under the mask too); W_eff = W ⊙ M.
    public func setWeights(_ w: Tensor) throws {
        guard w.count == value.count else {
            throw EngineError("\(w.count) values (\(shapeString(w.shape))) for a \(name) of \(value.count) (\(shapeString(value.shape)))")
        }
        value.copy(from: w)
        if mask != nil { maskedValues?.copy(from: w) }
        applyMask()
    }

    // MARK: scores

    /// Scores choose the mask from now on: M = top-k of |s| with k = round(f · n). The current
    /// mask's removed entries keep their stored values, and whatever the scores let through
    /// gets its value back.
    public func setScores(_ s: Tensor, keeping fraction: Double) throws {
        guard s.count == value.count else {
            throw EngineError("\(s.count) scores (\(shapeString(s.shape))) for a \(name) of \(value.count) (\(shapeString(value.shape)))")
        }
        guard fraction.isFinite, fraction >= 0, fraction <= 1 else {
            throw EngineError("the fraction of weights the scores keep must be between 0 and 1, got \(fraction)")
        }
        let p = scores ?? Parameter(name: name + "_scores", shape: value.shape)
        p.value.copy(from: s)
        scores = p
        keptFraction = fraction
        try chooseMaskFromScores()
        applyMask()
    }

    /// Installs saved scores beside the current mask without choosing the mask anew (a model
    /// file holds the mask the scores chose at the last forward pass); the kept fraction is
    /// the mask's share of ones, so the next choice keeps as many.
    public func restoreScores(_ s: Tensor) throws {
        guard let m = mask else { throw EngineError("scores of the \(name) come without its mask") }
        guard s.count == value.count else {
            throw EngineError("\(s.count) scores (\(shapeString(s.shape))) for a \(name) of \(value.count) (\(shapeString(value.shape)))")
        }
        let p = scores ?? Parameter(name: name + "_scores", shape: value.shape)
        p.value.copy(from: s)
        scores = p
        keptFraction = Double(m.count - m.zeroCount()) / Double(Swift.max(m.count, 1))
    }

    /// Sets the fraction of entries the scores keep (the next forward pass in training
    /// chooses the mask with it).
    public func setKeptFraction(_ fraction: Double) throws {
        guard scores != nil else { throw EngineError("the \(name) has no scores") }
        guard fraction.isFinite, fraction >= 0, fraction <= 1 else {
            throw EngineError("the fraction of weights the scores keep must be between 0 and 1, got \(fraction)")
        }
        keptFraction = fraction
    }

    /// Drops the scores; the mask they chose last stays.
    public func removeScores() {
        scores = nil
        keptFraction = nil
    }

    /// The number of entries the scores keep: round(f · n), halves away from zero.
    public var keptCount: Int? {
        keptFraction.map { Swift.min(value.count, Int(($0 * Double(value.count)).rounded(.toNearestOrAwayFromZero))) }
    }

    /// ∂L/∂s = (∂L/∂W_eff ⊙ W) · sign(s), from the gradient accumulated so far (no-op without
    /// scores). Set, not accumulated, so it always matches `grad`. W is read from the stored
    /// values alone (three streams, not five) when the last forward pass in training chose the
    /// mask and left W whole there (`storedIsWhole`); the first gradient after it does so, later
    /// ones read W_eff where M = 1 and the stored values where M = 0. Either way W_i is the same
    /// float, so the gradient has the same bits.
    public func propagateGradientToScores() {
        guard let s = scores else { return }
        let whole = storedIsWhole
        storedIsWhole = false
        let g = grad.data, sv = s.value.data, out = s.grad.data
        if whole, let w = maskedValues?.data {
            Parallel.forChunks(value.count, costPerItem: 3) { r in
                let i = r.lowerBound
                TopMagnitudes.straightThroughGradient(gradient: g + i, effective: w + i, mask: nil, stored: nil,
                                                      scores: sv + i, into: out + i, count: r.count)
            }
            return
        }
        let x = value.data, m = mask?.data, w = maskedValues?.data
        Parallel.forChunks(value.count, costPerItem: 4) { r in
            let i = r.lowerBound
            TopMagnitudes.straightThroughGradient(gradient: g + i, effective: x + i, mask: m.map { $0 + i },
                                                  stored: w.map { $0 + i }, scores: sv + i, into: out + i, count: r.count)
        }
    }

    // MARK: private

    private func checkMask(_ m: Tensor) throws {
        guard m.count == value.count else {
            throw EngineError("mask has \(m.count) elements (\(shapeString(m.shape))) but the \(name) has \(value.count) (\(shapeString(value.shape)))")
        }
        let p = m.data
        for i in 0..<m.count where p[i] != 0 && p[i] != 1 {
            throw EngineError("mask values must be 0 or 1, found \(p[i]) at index \(i + 1)")
        }
    }

    /// Makes `new` (0/1) the mask, copied into the current mask tensor when there is one:
    /// entries going 1 → 0 are kept aside, entries going 0 → 1 get their stored values
    /// back, then W_eff = W ⊙ M.
    private func install(_ new: Tensor) {
        maskVerified = false
        maskAppliedInScope = nil
        let kept = maskedValues ?? Tensor(shape: value.shape)
        let x = value.data, n = new.data, k = kept.data
        if let old = mask?.data {
            for i in 0..<value.count where old[i] != n[i] {
                if n[i] == 0 { k[i] = x[i] } else { x[i] = k[i] }
                old[i] = n[i]
            }
        } else {
            for i in 0..<value.count where n[i] == 0 { k[i] = x[i] }
            mask = Tensor(shape: value.shape)
            mask!.copy(from: new)
        }
        maskedValues = kept
        applyMask()
    }

    /// M = top-k of |s|, the stored values and W_eff = W ⊙ M, split across the engine's
    /// threads (`Kernels.TopMagnitudes`' steps): the counts give the threshold (`ScoreSelection`:
    /// around the last one, or by the top digits), each chunk makes its part of the mask, and the
    /// ties are settled from the top index down. The counts are integers, so the result is the
    /// same for any split.
    private func reselect(_ s: Tensor, keep k: Int, mask m: Tensor, stored: Tensor) throws {
        let n = value.count, x = s.data
        let chunks = Parallel.chunkCount(n, costPerItem: 4)
        guard let t = selection.threshold(x, count: n, keep: k) else {
            throw EngineError("the scores of this \(name): \(s.firstNaN().message)")
        }
        var kept = [Int](repeating: 0, count: chunks)
        let mp = m.data, xp = value.data, wp = stored.data
        kept.withUnsafeMutableBufferPointer { kc in
            Parallel.forChunksIndexed(n, costPerItem: 4) { chunk, range in
                kc[chunk] = TopMagnitudes.reselect(x, range, threshold: t, mask: mp, effective: xp, stored: wp)
            }
        }
        TopMagnitudes.dropTies(x, count: n, threshold: t, excess: kept.reduce(0, +) - k) { mp[$0] = 0; xp[$0] = 0 }
        storedIsWhole = true
    }

    /// Where the scores' mask is computed before it is installed (kept between passes).
    private var chosenMask: Tensor?

    /// M = top-k of |s| (ties to the lower index).
    private func chooseMaskFromScores() throws {
        guard let s = scores, let k = keptCount else { return }
        if let m = mask, let stored = maskedValues {
            try reselect(s.value, keep: k, mask: m, stored: stored)
            return
        }
        let chosen = chosenMask ?? Tensor(shape: value.shape)
        chosenMask = chosen
        do { try s.value.largestMagnitudeMask(keeping: k, into: chosen) } catch let e as EngineError {
            throw EngineError("the scores of this \(name): \(e.message)")
        }
        install(chosen)
    }
}
