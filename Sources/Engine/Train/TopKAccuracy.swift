/// Top-k accuracy counts: the number of rows b of `scores` [n, classes] whose target class
/// t_b (0-based) is among the k largest scores of the row, i.e. fewer than k classes c have
/// s[b, c] > s[b, t_b] or (s[b, c] = s[b, t_b] and c < t_b) — ties go to the lower class
/// index, as a stable descending sort (and `misclassified` for k = 1) puts them.
public func topKCorrect(_ scores: Tensor, _ targets: Tensor, k: Int) throws -> Int {
    let n = targets.count
    guard n > 0, scores.count % n == 0 else {
        throw EngineError("top-k accuracy: \(scores.count) scores do not split into \(n) rows")
    }
    let c = scores.count / n
    guard k >= 1 else { throw EngineError("top-k accuracy: k must be at least 1, got \(k)") }
    let s = scores.data
    var correct = 0
    for b in 0..<n {
        let t = Int(targets[b])
        guard t >= 0, t < c else { throw EngineError("top-k accuracy: target \(t + 1) of row \(b + 1) is not a class 1..\(c)") }
        let row = s + b * c, st = row[t]
        var above = 0
        for j in 0..<c where row[j] > st || (row[j] == st && j < t) { above += 1 }
        if above < k { correct += 1 }
    }
    return correct
}
