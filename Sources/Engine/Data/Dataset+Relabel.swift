extension Dataset {
    /// The same images with each label c replaced by `map[c]` (0-based classes, `map` one entry
    /// per class of this dataset), in a dataset of `classes` classes: IMP's `reclass` (class
    /// modulo x, or superclasses from a file). Pixels are shared, not copied.
    public func relabelled(_ map: [Int], classes: Int) throws -> Dataset {
        guard map.count == self.classes else {
            throw EngineError("\(name): a class map needs one entry per class (\(self.classes)), got \(map.count)")
        }
        guard classes >= 1 else { throw EngineError("\(name): the number of classes must be at least 1, got \(classes)") }
        if let (c, to) = map.enumerated().first(where: { $0.element < 0 || $0.element >= classes }) {
            throw EngineError("\(name): class \(c) maps to \(to), outside 0..\(classes - 1)")
        }
        return try Dataset(name: name, pixels: pixels, labels: labels.map { Int32(map[Int($0)]) },
                           channels: channels, height: height, width: width, classes: classes)
    }
}
