import ArgumentParser
import Engine
import Foundation

/// `workbench compress IN OUT [--share-bits B]`: writes a model file in the compressed format
/// (docs/model-files.md). Lossless by default; with `--share-bits`, the weights of the
/// convolutions and linear layers share 2^B values each (k-means, Deep Compression), whose
/// centroids are then fine-tuned on the training set by the summed gradients of the weights
/// sharing them (`CodebookSGD`); the test error before and after is printed.
struct CompressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compress",
        abstract: "Write a model in the compressed format: sparse indices Huffman-coded, optional weight sharing.",
        discussion: """
        Examples:
          workbench compress out/lenet5.safetensors out/lenet5.wbz
          workbench compress out/lenet5.safetensors out/lenet5-shared.wbz --share-bits conv=8,linear=5
          workbench -test -model lenet5-shared        (reads out/lenet5-shared.wbz when there is no .safetensors)

        Every reader of model files (wb.loadModel, -test, -inp, -model) reads the result as it \
        reads a standard file. Each tensor is stored the shortest way: dense, or its stored \
        entries' positions (relative indices or CSR, each stream fixed-width or Huffman-coded) \
        with their values. --share-bits B (1...16) shares 2^B values per weight of every \
        convolution and linear layer; conv=B1,linear=B2 sets them apart (a kind left out is \
        stored losslessly). Sharing loads --data (default fashion-mnist) to fine-tune the shared \
        values for --fine-tune-epochs epochs (0: k-means only) and to print the test error.
        """
    )

    @Argument(help: "The model file to compress (standard or compressed).")
    var input: String
    @Argument(help: "The compressed file to write (e.g. out/lenet5.wbz).")
    var output: String
    @Option(name: .customLong("share-bits"), help: "Weight sharing: B, or conv=B1,linear=B2 (bits per weight index, 1...16).")
    var shareBits: String?
    @Option(name: .customLong("fine-tune-epochs"), help: "Epochs of centroid fine-tuning with --share-bits, 0...100.")
    var fineTuneEpochs = 1
    @Option(name: .customLong("lr"), help: "Learning rate of the centroid fine-tuning, (0, 10].")
    var lr = 0.0001
    @Option(name: .customLong("momentum"), help: "Momentum of the centroid fine-tuning, [0, 1).")
    var momentum = 0.9
    @Option(name: .customLong("batch-size"), help: "Batch size of the fine-tuning, 1...4096.")
    var batchSize = 128
    @Option(name: .customLong("seed"), help: "Seed of the fine-tuning's shuffling.")
    var seed = 0
    @Option(name: .customLong("data"), help: "Dataset for fine-tuning and testing (with --share-bits).")
    var data = "fashion-mnist"
    @Option(name: .customLong("train-size"), help: "Fine-tune on the first N training images (0: all).")
    var trainSize = 0
    @Option(name: .customLong("test-size"), help: "Test on the first N test images (0: all).")
    var testSize = 0
    @OptionGroup var engine: ThreadOptions

    /// (conv bits, linear bits) from --share-bits.
    static func parseShareBits(_ text: String) throws -> (conv: Int?, linear: Int?) {
        func bits(_ s: Substring) throws -> Int {
            guard let b = Int(s), Codebook.bitRange.contains(b) else {
                throw ValidationError("--share-bits: '\(s)' is not a number of bits in \(Codebook.bitRange)")
            }
            return b
        }
        if !text.contains("=") { let b = try bits(Substring(text)); return (b, b) }
        var conv: Int?, linear: Int?
        for part in text.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { throw ValidationError("--share-bits: '\(part)' is not conv=B or linear=B") }
            switch kv[0] {
            case "conv": conv = try bits(kv[1])
            case "linear": linear = try bits(kv[1])
            default: throw ValidationError("--share-bits: unknown layer kind '\(kv[0])' (conv or linear)")
            }
        }
        return (conv, linear)
    }

    func validate() throws {
        try engine.check()
        if let shareBits { _ = try Self.parseShareBits(shareBits) }
        guard (0...100).contains(fineTuneEpochs) else { throw ValidationError("--fine-tune-epochs must be in 0...100, got \(fineTuneEpochs)") }
        guard lr.isFinite, lr > 0, lr <= 10 else { throw ValidationError("--lr must be in (0, 10], got \(lr)") }
        guard momentum.isFinite, momentum >= 0, momentum < 1 else { throw ValidationError("--momentum must be in [0, 1), got \(momentum)") }
        guard (1...4096).contains(batchSize) else { throw ValidationError("--batch-size must be in 1...4096, got \(batchSize)") }
        guard seed >= 0 else { throw ValidationError("--seed must be at least 0, got \(seed)") }
        guard trainSize >= 0, testSize >= 0 else { throw ValidationError("--train-size and --test-size must be at least 0") }
    }

    func run() throws {
        engine.apply()
        try runReportingErrors {
            let model = try ModelFile.load(input)
            var sharing = [ObjectIdentifier: Int]()
            if let shareBits {
                let (conv, linear) = try Self.parseShareBits(shareBits)
                sharing = ModelFile.sharingPlan(model, convolution: conv, linear: linear)
                let splits = try Datasets.load(data, trainLimit: trainSize == 0 ? nil : trainSize, testLimit: testSize == 0 ? nil : testSize)
                let before = try evaluate(model, on: splits.test)
                print("test error of \(input): " + String(format: "%.2f", before.errorPercent))
                let shared = leafModules(model).compactMap { m in m.weight.flatMap { w in sharing[ObjectIdentifier(w)].map { SharedWeight(w, bits: $0) } } }
                let quantised = try evaluate(model, on: splits.test)
                print(String(format: "after k-means weight sharing: %.2f", quantised.errorPercent))
                if fineTuneEpochs > 0 {
                    let trainer = Trainer(model: model, optimizer: CodebookSGD(shared, learningRate: Float(lr), momentum: Float(momentum)),
                                          batchSize: batchSize, seed: UInt64(seed), showProgress: false)
                    for epoch in 1...fineTuneEpochs {
                        let loss = try trainer.trainEpoch(splits.train)
                        let e = try evaluate(model, on: splits.test)
                        print(String(format: "centroid fine-tuning epoch %d: train loss %.4f, test error %.2f", epoch, loss, e.errorPercent))
                    }
                }
            }
            try ModelFile.save(model, to: output, metadata: ["source": input], format: .compressed(sharing: sharing))
            print(try ModelSummary(try ModelFile.load(output), file: output).table)
            let inBytes = try FileBytes.read(input).count, outBytes = try FileBytes.read(output).count
            print("\(input): \(inBytes) bytes; \(output): \(outBytes) bytes (" + String(format: "%.1f", Double(inBytes) / Double(max(outBytes, 1))) + "x smaller)")
        }
    }
}
