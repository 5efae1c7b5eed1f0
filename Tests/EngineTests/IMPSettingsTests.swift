import XCTest
@testable import Engine

/// The IMP .ini reader: every key and its default, comments, overrides, and each error with
/// FILE:line and the key.
final class IMPSettingsTests: XCTestCase {
    private func settings(_ text: String, _ overrides: [String] = []) throws -> IMPSettings {
        try IMPSettings(IniFile(text: text, path: "exp.ini"), overrides: overrides)
    }

    private let minimal = "[Network]\narch = f300:f100:x\n[Data]\ndataset = fashion-mnist\n"

    func testEveryKeyHasTheOriginalsDefault() throws {
        let s = try settings(minimal)
        XCTAssertEqual(s.text("save_dir"), ".")
        XCTAssertEqual(s.text("prefix"), "IMP")
        XCTAssertEqual(s.text("dataloc"), "data")
        XCTAssertEqual(s.boolean("preload"), true)
        XCTAssertEqual(s.real("data_ratio"), 1.0)
        XCTAssertEqual(s.text("reclass"), "n")
        XCTAssertEqual(s.integer("steps"), 100_000)
        XCTAssertEqual(s.integer("batch_size"), 1000)
        XCTAssertEqual(s.integer("val_size"), 1000)
        XCTAssertEqual(s.integer("validate_step"), 100)
        XCTAssertEqual(s.text("minimizer"), "SGD")
        XCTAssertEqual(s.real("learning_rate"), 0.1)
        XCTAssertEqual(s.real("init_sparsity"), 0.0)
        XCTAssertEqual(s.real("batch_norm_beta"), 0.99)
        XCTAssertEqual(s.boolean("restart"), false)
        XCTAssertEqual(s.integer("rest_it"), 1)
        XCTAssertEqual(s.text("rest_weights_file"), "./IMP_itdata_0.json")
        XCTAssertEqual(s.text("rest_mask_file"), "./IMP_itdata_0.json")
        XCTAssertEqual(s.integer("rest_file_step"), -1)
        XCTAssertEqual(s.integer("seed"), 0)
        XCTAssertEqual(s.text("prune"), "")
        XCTAssertEqual(s.real("prune_ratio"), 0.3)
        XCTAssertEqual(s.integer("weights_step"), 1000)
        XCTAssertEqual(s.integer("prune_step"), 100_000, "prune_step defaults to steps")
        XCTAssertEqual(s.real("stop_ratio"), 0.0)
        XCTAssertEqual(s.integer("max_iterations"), 1000)
        XCTAssertEqual(s.rewind, ["step"])
        // every key of the schema has a value once read
        for k in IMPSettings.keys where k.name != "restart_weights_step" {
            XCTAssertNotNil(s.values[k.name], k.name)
        }
        XCTAssertEqual(s.layers, [.fullyConnected(units: 300), .fullyConnected(units: 100), .output])
        XCTAssertEqual(s.prune, [true, true, true], "an empty prune string prunes every layer, x included")
        XCTAssertEqual(s.place("steps"), "exp.ini: steps (default)")
    }

    func testEveryKeyIsReadWithCommentsAndOrigins() throws {
        let text = """
        # a comment
        [IO]
        save_dir = out/imp   # trailing comment
        prefix: run1
        ; another comment
        [Data]
        dataset = mnist
        dataloc = /data
        preload = F
        data_ratio = 0.5
        reclass = m,5

        [Network]
        arch = c5,8,2:p2,2:f64:x
        steps = 1e3
        batch_size = 10
        val_size = 50
        validate_step = 7
        minimizer = Adam
        learning_rate = 1e-3
        init_sparsity = 0.2
        batch_norm_beta = 0.9
        restart = yes
        rest_it = 3
        rest_weights_file = w.json
        rest_mask_file = m.json
        restart_weights_step = -2
        seed = 11
        [IMP]
        prune = T:F:T
        prune_ratio = 0.2
        weights_step = 20
        prune_step = 900
        stop_ratio = 0.25
        max_iterations = 4
        rewind = random,none
        """
        let s = try settings(text)
        XCTAssertEqual(s.text("save_dir"), "out/imp")
        XCTAssertEqual(s.text("prefix"), "run1")
        XCTAssertEqual(s.text("dataset"), "mnist")
        XCTAssertEqual(s.text("dataloc"), "/data")
        XCTAssertEqual(s.boolean("preload"), false)
        XCTAssertEqual(s.real("data_ratio"), 0.5)
        XCTAssertEqual(s.text("reclass"), "m,5")
        XCTAssertEqual(s.integer("steps"), 1000)
        XCTAssertEqual(s.integer("batch_size"), 10)
        XCTAssertEqual(s.integer("val_size"), 50)
        XCTAssertEqual(s.integer("validate_step"), 7)
        XCTAssertEqual(s.text("minimizer"), "Adam")
        XCTAssertEqual(s.real("learning_rate"), 1e-3)
        XCTAssertEqual(s.real("init_sparsity"), 0.2)
        XCTAssertEqual(s.real("batch_norm_beta"), 0.9)
        XCTAssertEqual(s.boolean("restart"), true)
        XCTAssertEqual(s.integer("rest_it"), 3)
        XCTAssertEqual(s.text("rest_weights_file"), "w.json")
        XCTAssertEqual(s.text("rest_mask_file"), "m.json")
        XCTAssertEqual(s.integer("rest_file_step"), -2, "restart_weights_step is the alias the original's code reads")
        XCTAssertEqual(s.integer("seed"), 11)
        XCTAssertEqual(s.layers, [.convolution(kernel: 5, channels: 8, stride: 2), .maxPool(kernel: 2, stride: 2), .fullyConnected(units: 64), .output])
        XCTAssertEqual(s.prune, [true, false, true, false], "a short prune string is padded with F; p is never pruned")
        XCTAssertEqual(s.real("prune_ratio"), 0.2)
        XCTAssertEqual(s.integer("weights_step"), 20)
        XCTAssertEqual(s.integer("prune_step"), 900)
        XCTAssertEqual(s.real("stop_ratio"), 0.25)
        XCTAssertEqual(s.integer("max_iterations"), 4)
        XCTAssertEqual(s.rewind, ["random", "none"])
        XCTAssertEqual(s.place("steps"), "exp.ini:15: steps")
        XCTAssertEqual(s.outputPath("findata.csv"), "out/imp/run1_findata.csv")
    }

    func testOverridesWinAndNameThemselves() throws {
        let s = try settings(minimal + "[IMP]\nprune_ratio = 0.3\n", ["prune_ratio=0.5", "Network.steps = 300", "weights_step=30", "rewind=none"])
        XCTAssertEqual(s.real("prune_ratio"), 0.5)
        XCTAssertEqual(s.integer("steps"), 300)
        XCTAssertEqual(s.integer("prune_step"), 300)
        XCTAssertEqual(s.place("prune_ratio"), "the override 'prune_ratio=0.5': prune_ratio")
        assertMessage(errorMessage { try self.settings(self.minimal, ["steps"]) }, contains: ["the override 'steps'", "key=value"])
        assertMessage(errorMessage { try self.settings(self.minimal, ["stepz=3"]) }, contains: ["unknown key 'stepz'", "did you mean 'steps'"])
        assertMessage(errorMessage { try self.settings(self.minimal, ["steps=-1"]) }, contains: ["the override 'steps=-1': steps", "1...1000000000"])
        XCTAssertEqual(try settings(minimal, ["rest_file_step=-2"]).integer("rest_file_step"), -2)
    }

    func testEachErrorNamesFileLineAndKey() {
        let cases: [(String, [String])] = [
            ("[Network]\narch = f10:x\nsteps = abc\n", ["exp.ini:3: steps", "whole number", "'abc'"]),
            ("[Network]\narch = f10:x\nsteps = 2.5\n", ["exp.ini:3: steps", "whole number"]),
            ("[Network]\narch = f10:x\nlearning_rate = fast\n", ["exp.ini:3: learning_rate", "expected a number"]),
            ("[Network]\narch = f10:x\nlearning_rate = nan\n", ["exp.ini:3: learning_rate"]),
            ("[IMP]\nprune_ratio = 1\n[Network]\narch = f10:x\n", ["exp.ini:2: prune_ratio", "[0, 1)"]),
            ("[Network]\narch = f10:x\nrestart = maybe\n", ["exp.ini:3: restart", "boolean"]),
            ("[Network]\narch = f10:x\nminimizer = RMSprop\n", ["exp.ini:3: minimizer", "SGD, Adam"]),
            ("[IMP]\nrewind = step,sideways\n[Network]\narch = f10:x\n", ["exp.ini:2: rewind", "'sideways'"]),
            ("[IMP]\nrewind = step,step\n[Network]\narch = f10:x\n", ["exp.ini:2: rewind", "twice"]),
            ("[Network]\narch = f10:y\n", ["exp.ini:2: arch", "layer 2 'y'", "unknown layer type"]),
            ("[Network]\narch = f10\n", ["exp.ini:2: arch", "must end with the output layer x"]),
            ("[Network]\narch = f0:x\n", ["exp.ini:2: arch", "number of units"]),
            ("[Network]\narch = c5:x\n", ["exp.ini:2: arch", "c<kernel>,<channels>"]),
            ("[Network]\n", ["exp.ini: arch (default)", "empty"]),
            ("[Network]\narch = f10:x\n[IMP]\nprune = T:X\n", ["exp.ini:4: prune", "entry 2 is 'X'"]),
            ("[Network]\narch = f10:x\n[IMP]\nprune = T:T:T\n", ["exp.ini:4: prune", "3 entries for an architecture of 2 layers"]),
            ("[Network]\narch = f10:x\n[IMP]\nprune = F:F\n", ["exp.ini:4: prune", "no layer is pruned"]),
            ("[Network]\narch = f10:x\nsteps = 100\n", ["exp.ini: weights_step (default)", "beyond steps = 100", "exp.ini:3: steps"]),
            ("[Network]\narch = f10:x\nsteps = 100\n[IMP]\nweights_step = 10\nprune_step = 200\n", ["exp.ini:6: prune_step", "beyond steps"]),
            ("[Data]\ndataset = ImageNet64\n[Network]\narch = f10:x\n", ["exp.ini:2: dataset", "ImageNet64", "not available here"]),
            ("[Network]\narch = f10:x\n", ["exp.ini: dataset (default)", "ImageNet32", "not available"]),
            ("[Data]\ndataset = mnist\nreclass = m\n[Network]\narch = f10:x\n", ["exp.ini:3: reclass", "m,<classes>"]),
            ("[Data]\ndataset = mnist\nreclass = m,0\n[Network]\narch = f10:x\n", ["exp.ini:3: reclass", ">= 1"]),
            ("[Data]\ndataset = mnist\nreclass = f,3,\n[Network]\narch = f10:x\n", ["exp.ini:3: reclass", "no file"]),
            ("[Data]\ndataset = mnist\n[Network]\narch = f10:x\nrest_file_step = -1\nrestart_weights_step = -2\n", ["exp.ini:6: restart_weights_step", "alias of rest_file_step", "exp.ini:5"]),
            ("[IO]\nprefix = a/b\n[Data]\ndataset = mnist\n[Network]\narch = f10:x\n", ["exp.ini:2: prefix", "without '/'"]),
            ("[Model]\narch = f10:x\n", ["exp.ini:1: unknown section [Model]"]),
            ("[Network]\narch = f10:x\nlayers = 3\n", ["exp.ini:3: unknown key 'layers' in [Network]"]),
            ("[Network]\narch = f10:x\nlearning_rat = 0.1\n", ["exp.ini:3", "did you mean 'learning_rate'"]),
            ("[IMP]\narch = f10:x\n", ["exp.ini:2: key 'arch' belongs in [Network], not [IMP]"]),
            ("arch = f10:x\n", ["exp.ini:1: key 'arch' before any [Section]"]),
            ("[Network]\narch = f10:x\narch = f20:x\n", ["exp.ini:3: key 'arch' given twice in [Network] (first at line 2)"]),
            ("[Network]\narch = f10:x\n[Network]\n", ["exp.ini:3: section [Network] again (first at line 1)"]),
            ("[Network]\njust words\n", ["exp.ini:2: expected 'key = value'"]),
            ("[Network\n", ["exp.ini:1: a section header is [Name]"]),
            ("[Network]\n= 3\n", ["exp.ini:2: a value without a key"]),
        ]
        for (text, parts) in cases {
            assertMessage(errorMessage { try self.settings(text) }, contains: parts)
        }
    }

    func testFilesAreReadFromDisk() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("imp-\(UUID().uuidString).ini").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try (minimal + "[IO]\nprefix = disk\n").write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try IMPSettings(contentsOf: path).text("prefix"), "disk")
        assertMessage(errorMessage { try IMPSettings(contentsOf: path + ".missing") }, contains: ["no such file"])
        assertMessage(errorMessage { try IMPSettings(contentsOf: NSTemporaryDirectory()) }, contains: ["is a folder"])
    }

    func testShippedSettingsFilesRead() throws {
        let lenet = try IMPSettings(contentsOf: repositoryRoot.appendingPathComponent("inp/imp/lenet300.ini").path)
        XCTAssertEqual(lenet.layers.count, 3)
        XCTAssertEqual(lenet.prune, [true, true, false])
        XCTAssertEqual(lenet.integer("steps"), 3000)
        XCTAssertEqual(lenet.integer("weights_step"), 30)
        let basic = try IMPSettings(contentsOf: repositoryRoot.appendingPathComponent("inp/imp/basic.ini").path)
        XCTAssertEqual(basic.prune, [true, true, true, false])
        XCTAssertEqual(basic.real("stop_ratio"), 0.2)
        XCTAssertEqual(basic.integer("val_size"), 10000)
    }
}
