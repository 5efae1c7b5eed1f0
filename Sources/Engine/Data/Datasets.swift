import Foundation

/// A dataset's training and test splits.
public struct DatasetSplits {
    public let train: Dataset
    public let test: Dataset

    public init(train: Dataset, test: Dataset) {
        self.train = train
        self.test = test
    }
}

/// Finds and loads the datasets the workbench knows by name, or any folder of MNIST IDX
/// files or CIFAR-10 binary batches:
///
/// | name | where |
/// |---|---|
/// | fashion-mnist (default) | `<dataRoot>/fashion-mnist/`, else Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/) |
/// | mnist | `<dataRoot>/mnist/`: the four standard IDX files, each optionally .gz |
/// | cifar10 | `<dataRoot>/cifar-10-batches-bin/`: data_batch_1..5.bin, test_batch.bin |
///
/// `dataRoot` is "data", relative to the current directory, unless given.
public enum Datasets {
    public static let defaultName = "fashion-mnist"
    public static let names = ["fashion-mnist", "mnist", "cifar10"]

    /// The standard MNIST file names (each may also be stored with a .gz suffix).
    public static let idxTrainImages = "train-images-idx3-ubyte"
    public static let idxTrainLabels = "train-labels-idx1-ubyte"
    public static let idxTestImages = "t10k-images-idx3-ubyte"
    public static let idxTestLabels = "t10k-labels-idx1-ubyte"
    static var idxNames: [String] { [idxTrainImages, idxTrainLabels, idxTestImages, idxTestLabels] }

    /// Where Debian's dataset-fashion-mnist package puts its files.
    public static let debianFashionMNISTFolder = "/usr/share/datasets/fashion-mnist"

    /// Loads a dataset given by name (see the table above) or, when `nameOrPath` is not a
    /// known name, by the path of a folder. `trainLimit` / `testLimit` keep the first N images.
    public static func load(_ nameOrPath: String = defaultName, trainLimit: Int? = nil, testLimit: Int? = nil,
                            dataRoot: String = "data") throws -> DatasetSplits {
        if canonicalName(nameOrPath) != nil {
            return try load(name: nameOrPath, trainLimit: trainLimit, testLimit: testLimit, dataRoot: dataRoot)
        }
        guard DataFile.isFolder(nameOrPath) else {
            throw EngineError("unknown dataset '\(nameOrPath)': not one of \(names.joined(separator: ", ")), and there is no folder of that name")
        }
        return try load(path: nameOrPath, trainLimit: trainLimit, testLimit: testLimit)
    }

    /// Loads a named dataset: fashion-mnist, mnist or cifar10.
    public static func load(name: String, trainLimit: Int? = nil, testLimit: Int? = nil,
                            dataRoot: String = "data") throws -> DatasetSplits {
        try checkLimits(trainLimit, testLimit)
        guard let canonical = canonicalName(name) else {
            throw EngineError("unknown dataset '\(name)': the known ones are \(names.joined(separator: ", ")) (or give the path of a folder of MNIST IDX files or CIFAR-10 batches)")
        }
        let splits: DatasetSplits
        switch canonical {
        case "fashion-mnist":
            var candidates = [DataFile.join(dataRoot, "fashion-mnist"), debianFashionMNISTFolder]
            if !candidates.contains(where: { missingIDXFiles(in: $0).isEmpty }),
               let installed = debianPackageFolder("dataset-fashion-mnist", containing: idxTrainImages + ".gz"),
               !candidates.contains(installed) {
                candidates.append(installed)
            }
            guard let folder = candidates.first(where: { missingIDXFiles(in: $0).isEmpty }) else {
                throw EngineError("dataset 'fashion-mnist' not found: looked in \(candidates.joined(separator: " and ")) for \(idxListing). Install it with `apt-get install dataset-fashion-mnist` (files go to \(debianFashionMNISTFolder)), or put the four IDX files in \(candidates[0]).")
            }
            splits = try loadIDX(folder: folder, label: "fashion-mnist")
        case "mnist":
            let folder = DataFile.join(dataRoot, "mnist")
            let missing = missingIDXFiles(in: folder)
            guard missing.isEmpty else {
                let what = missing.count == idxNames.count
                    ? "no MNIST files in \(folder) (looked for \(idxListing))"
                    : "\(folder) lacks \(missing.map { $0 + "[.gz]" }.joined(separator: ", "))"
                throw EngineError("dataset 'mnist' not found: \(what). Run scripts/setup/prepare-mnist.sh to get 5,000 real digits (4,000 train, 1,000 test), or put the full MNIST's four standard files there.")
            }
            splits = try loadIDX(folder: folder, label: "mnist")
        default:
            let folder = DataFile.join(dataRoot, "cifar-10-batches-bin")
            let missing = missingCIFARFiles(in: folder)
            guard missing.isEmpty else {
                throw EngineError("dataset 'cifar10' not found: \(folder) lacks \(missing.joined(separator: ", ")). Get the CIFAR-10 binary version (cifar-10-binary.tar.gz) and unpack it into \(dataRoot)/ so that \(DataFile.join(folder, "data_batch_1.bin")) exists.")
            }
            splits = try loadCIFAR(folder: folder, label: "cifar10")
        }
        return limited(splits, trainLimit, testLimit)
    }

    /// Loads the folder at `path`: MNIST-style IDX files if it holds them, else CIFAR-10 batches.
    public static func load(path: String, trainLimit: Int? = nil, testLimit: Int? = nil) throws -> DatasetSplits {
        try checkLimits(trainLimit, testLimit)
        guard DataFile.isFolder(path) else {
            throw EngineError("dataset folder \(path) does not exist (or is not a folder)")
        }
        let label = URL(fileURLWithPath: path).lastPathComponent
        let missingIDX = missingIDXFiles(in: path), missingCIFAR = missingCIFARFiles(in: path)
        let splits: DatasetSplits
        if missingIDX.isEmpty {
            splits = try loadIDX(folder: path, label: label)
        } else if missingCIFAR.isEmpty {
            splits = try loadCIFAR(folder: path, label: label)
        } else if missingIDX.count < idxNames.count {
            throw EngineError("dataset folder \(path) holds some MNIST IDX files but lacks \(missingIDX.map { $0 + "[.gz]" }.joined(separator: ", "))")
        } else if missingCIFAR.count < CIFAR10File.trainBatches.count + 1 {
            throw EngineError("dataset folder \(path) holds some CIFAR-10 batches but lacks \(missingCIFAR.joined(separator: ", "))")
        } else {
            throw EngineError("dataset folder \(path) holds neither MNIST IDX files (\(idxListing)) nor CIFAR-10 batches (\(CIFAR10File.trainBatches.joined(separator: ", ")), \(CIFAR10File.testBatch))")
        }
        return limited(splits, trainLimit, testLimit)
    }

    /// The canonical name for `name` (case-insensitive, a few spellings accepted), or nil.
    public static func canonicalName(_ name: String) -> String? {
        switch name.lowercased() {
        case "fashion-mnist", "fashion_mnist", "fashionmnist", "fashion": return "fashion-mnist"
        case "mnist": return "mnist"
        case "cifar10", "cifar-10", "cifar_10": return "cifar10"
        default: return nil
        }
    }

    // MARK: - Loading

    static func loadIDX(folder: String, label: String) throws -> DatasetSplits {
        func path(_ name: String) -> String { DataFile.find(name, in: folder)! }
        let train = try IDXFile.loadDataset(name: "\(label) train", images: path(idxTrainImages), labels: path(idxTrainLabels))
        let test = try IDXFile.loadDataset(name: "\(label) test", images: path(idxTestImages), labels: path(idxTestLabels))
        guard train.height == test.height, train.width == test.width else {
            throw EngineError("dataset \(folder): train images are \(train.height)x\(train.width) but test images are \(test.height)x\(test.width)")
        }
        return DatasetSplits(train: train, test: test)
    }

    static func loadCIFAR(folder: String, label: String) throws -> DatasetSplits {
        func path(_ name: String) -> String { DataFile.find(name, in: folder)! }
        let train = try CIFAR10File.loadDataset(name: "\(label) train", batches: CIFAR10File.trainBatches.map(path))
        let test = try CIFAR10File.loadDataset(name: "\(label) test", batches: [path(CIFAR10File.testBatch)])
        return DatasetSplits(train: train, test: test)
    }

    static func checkLimits(_ trainLimit: Int?, _ testLimit: Int?) throws {
        for (what, n) in [("train", trainLimit), ("test", testLimit)] {
            if let n, n < 0 { throw EngineError("the \(what) image limit must be 0 or more, got \(n)") }
        }
    }

    static func limited(_ s: DatasetSplits, _ trainLimit: Int?, _ testLimit: Int?) -> DatasetSplits {
        DatasetSplits(train: s.train.prefix(trainLimit), test: s.test.prefix(testLimit))
    }

    // MARK: - Finding files

    private static var idxListing: String { idxNames.map { $0 + "[.gz]" }.joined(separator: ", ") }

    static func missingIDXFiles(in folder: String) -> [String] {
        idxNames.filter { DataFile.find($0, in: folder) == nil }
    }

    static func missingCIFARFiles(in folder: String) -> [String] {
        (CIFAR10File.trainBatches + [CIFAR10File.testBatch]).filter { DataFile.find($0, in: folder) == nil }
    }

    /// The folder of an installed Debian package's file named `file`, asked of dpkg
    /// (nil when dpkg or the package is absent).
    static func debianPackageFolder(_ package: String, containing file: String) -> String? {
        let dpkg = "/usr/bin/dpkg"
        guard FileManager.default.isExecutableFile(atPath: dpkg) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: dpkg)
        process.arguments = ["-L", package]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let text = String(data: output, encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first { $0.hasSuffix("/" + file) }
        return line.map { String($0.dropLast(file.count + 1)) }
    }
}
