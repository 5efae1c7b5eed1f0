extension Module {
    /// A deep copy (Torch's `clone`): the same architecture, stored weights, masks, scores,
    /// frozen flags, learning-rate scales, gradients and buffers, in the same mode; fresh
    /// per-batch state. `types` builds module types defined outside the Engine (e.g. in Lua).
    public func deepCopy(types: ModuleTypeRegistry? = nil) throws -> Module {
        let copy = try ModuleFactory.make(spec, types: types)
        for (a, b) in zip(allModules(self), allModules(copy)) {
            b.isFrozen = a.isFrozen
            b.learningRateScale = a.learningRateScale
            for (x, y) in zip(a.buffers, b.buffers) where x.value.count == y.value.count { y.value.copy(from: x.value) }
        }
        for (p, q) in zip(allParameters, copy.allParameters) {
            try q.setWeights(p.weights())
            q.grad.copy(from: p.grad)
            q.isFrozen = p.isFrozen
            if let mask = p.mask { try q.setMask(mask) }
            if let s = p.scores {
                try q.restoreScores(s.value)
                q.scores?.grad.copy(from: s.grad)
                q.scores?.isFrozen = s.isFrozen
                if let f = p.keptFraction { try q.setKeptFraction(f) }
            }
        }
        if isTraining { copy.training() } else { copy.evaluate() }
        return copy
    }
}
