@testable import Engine
import Foundation
import XCTest

/// The mutation fuzzer itself: deterministic, every kind of mutation made, structure-aware
/// edits that mean what they say. (The fuzz runs are in Tests/CLITests/FuzzTests.swift.)
final class FuzzerTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("wb-fuzzer-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    private func targets() throws -> [FuzzTarget] {
        try FuzzFormats.engine.map { try XCTUnwrap(FuzzFormats.target($0, options: FuzzTargetOptions(directory: folder))) }
    }

    private func confSeeds() -> [FuzzSeed] {
        [FuzzSeeds.conf(name: "lenet5.conf", text: "1,4,8,10,12\n0.5,0.7,0.95,0.7,0.5\n")]
    }

    func testSameSeedGivesTheSameMutants() throws {
        for (a, b) in zip(try targets(), try targets()) {
            let m1 = FuzzMutator(seeds: a.seeds, schedule: a.schedule, seed: 42)
            let m2 = FuzzMutator(seeds: b.seeds, schedule: b.schedule, seed: 42)
            for i in 0..<150 where a.schedule[i % a.schedule.count] != .gzipBomb {
                let x = m1.mutant(i), y = m2.mutant(i)
                XCTAssertEqual(x.bytes, y.bytes, "\(a.name) #\(i): \(x.description) vs \(y.description)")
                XCTAssertEqual(x.mutations, y.mutations, "\(a.name) #\(i)")
            }
            // Order does not matter: mutant i is the same whether or not the others were made.
            XCTAssertEqual(m1.mutant(97).bytes, FuzzMutator(seeds: a.seeds, schedule: a.schedule, seed: 42).mutant(97).bytes)
        }
    }

    func testDifferentSeedsGiveDifferentMutants() throws {
        let t = try XCTUnwrap(try targets().first { $0.name == "safetensors" })
        let a = FuzzMutator(seeds: t.seeds, schedule: t.schedule, seed: 1), b = FuzzMutator(seeds: t.seeds, schedule: t.schedule, seed: 2)
        let differing = (0..<60).filter { a.mutant($0).bytes != b.mutant($0).bytes }.count
        XCTAssertGreaterThan(differing, 50)
    }

    func testEveryKindOfMutationIsMade() throws {
        var made = Set<FuzzMutationKind>()
        var all = try targets().map { ($0.name, $0.seeds, $0.schedule) }
        all.append(("conf", confSeeds(), [.text, .bitFlip, .truncate, .byteSet, .insert, .delete]))
        for (name, seeds, schedule) in all {
            let m = FuzzMutator(seeds: seeds, schedule: schedule, seed: 7)
            var here = Set<FuzzMutationKind>()
            for i in 0..<(schedule.count * seeds.count * 3) where schedule[i % schedule.count] != .gzipBomb {
                let mutant = m.mutant(i)
                XCTAssertFalse(mutant.mutations.isEmpty)
                here.formUnion(mutant.mutations.map(\.kind))
            }
            for k in Set(schedule) where k != .gzipBomb {
                XCTAssertTrue(here.contains(k), "\(name): no \(k.rawValue) mutation made")
            }
            made.formUnion(here)
        }
        // Bombs are large to inflate, not to make: check one directly.
        let gz = try XCTUnwrap(try targets().first { $0.name == "idx-gz" })
        let bombs = try XCTUnwrap(gz.seeds[0].edits[.gzipBomb])
        XCTAssertEqual(bombs.count, 12)
        made.insert(.gzipBomb)
        XCTAssertEqual(made, Set(FuzzMutationKind.allCases), "kinds never made: \(Set(FuzzMutationKind.allCases).subtracting(made))")
    }

    func testMutantsDifferFromTheirSeed() throws {
        for t in try targets() {
            let m = FuzzMutator(seeds: t.seeds, schedule: t.schedule, seed: 3)
            let same = (0..<100).filter { i in
                t.schedule[i % t.schedule.count] != .gzipBomb && m.mutant(i).bytes == t.seeds.first { $0.name == m.mutant(i).seedName }!.bytes
            }
            XCTAssertLessThan(same.count, 5, "\(t.name): mutants equal to their seed: \(same.map { m.mutant($0).description })")
        }
    }

    func testTruncationsHitTheStructuralBoundaries() throws {
        let t = try XCTUnwrap(try targets().first { $0.name == "safetensors" })
        let seed = t.seeds[0]
        let header = Int(FuzzLengthField(name: "", offset: 0, width: 8, bigEndian: false).read(seed.bytes))
        for b in [1, 4, 7, 8 + header / 2, 8 + header, seed.bytes.count - 1] {
            XCTAssertTrue(seed.boundaries.contains(b), "boundary \(b) missing")
        }
        let m = FuzzMutator(seeds: [seed], schedule: [.truncate], seed: 1)
        // Two truncations in three are at a structural boundary, each once before any repeats.
        let points = Set((0..<(seed.boundaries.count * 3 / 2 + 3)).compactMap { i -> Int? in
            let first = m.mutant(i).mutations[0]
            XCTAssertEqual(first.kind, .truncate)
            guard first.detail.contains("structural") else { return nil }
            return Int(first.detail.split(separator: " ")[1])
        })
        XCTAssertEqual(points, Set(seed.boundaries), "truncation points not made: \(Set(seed.boundaries).subtracting(points).sorted())")
    }

    func testLengthFieldsGetZeroHugeAndNegativeValues() throws {
        let f = FuzzLengthField(name: "count", offset: 4, width: 4, bigEndian: true)
        var b = FuzzSeeds.idxLabels(count: 5)
        XCTAssertEqual(f.read(b), 5)
        f.write(0x8000_0000, into: &b)
        XCTAssertEqual(Array(b[4..<8]), [0x80, 0, 0, 0])
        let values = Set(f.interestingValues(current: 5).map(\.0))
        for v: UInt64 in [0, 1, 4, 6, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff] { XCTAssertTrue(values.contains(v), "\(v)") }
        let header = FuzzLengthField(name: "header length", offset: 0, width: 8, bigEndian: false)
        let big = Set(header.interestingValues(current: 1312).map(\.0))
        for v: UInt64 in [0, 1311, 1313, UInt64.max, 1 << 63, 1_000_000_000_000_000_000] { XCTAssertTrue(big.contains(v), "\(v)") }
    }

    func testHeaderAndArchitectureEditsSayWhatTheyDo() throws {
        let t = try XCTUnwrap(try targets().first { $0.name == "safetensors" })
        let seed = t.seeds[0]
        let values = try XCTUnwrap(seed.edits[.architectureValue])
        // Every numeric value on the pooling stride, as the issue's flipped bit did.
        for v in FuzzSafetensors.architectureNumbers {
            let e = try XCTUnwrap(values.first { $0.detail.contains("nn.SpatialMaxPooling) args[2]") && $0.detail.hasSuffix("-> \(v)") }, v)
            let st = try XCTUnwrap(FuzzSafetensors(e.apply(seed.bytes)))
            let arch = try XCTUnwrap(st.header["__metadata__"]?[ModelFile.architectureKey]?.stringValue)
            XCTAssertTrue(arch.contains("\"args\":[2,2,\(v),2"), arch)
        }
        // A header edit keeps the rest of the file: the data section and the other tensors.
        let headerEdits = try XCTUnwrap(seed.edits[.header])
        let e = try XCTUnwrap(headerEdits.first { $0.detail == "tensor '0.weight' shape[0] (2) -> 1e18" })
        let mutated = try XCTUnwrap(FuzzSafetensors(e.apply(seed.bytes)))
        let original = try XCTUnwrap(FuzzSafetensors(seed.bytes))
        XCTAssertEqual(mutated.data, original.data)
        XCTAssertEqual(mutated.header["0.weight"]?["shape"]?.text, "[1e18,1,3,3]")
        // The unmutated seed loads.
        let path = folder + "/seed.safetensors"
        try Data(seed.bytes).write(to: URL(fileURLWithPath: path))
        let model = try ModelFile.load(path)
        XCTAssertNotNil(model.modules[4].weight?.mask, "the seed model is pruned")
        XCTAssertEqual(try t.run(path: path, mutant: FuzzMutant(index: 0, seedName: seed.name, bytes: seed.bytes, mutations: [])).kind, .accepted)
    }

    func testJSONRoundTripKeepsNumbersAndOrder() throws {
        let text = #"{"b":[1e18,2.5,-0],"a":{"x":"\u00e9\n","x":null},"c":true}"#
        let v = try XCTUnwrap(FuzzJSON.parse(text))
        XCTAssertEqual(v.text, #"{"b":[1e18,2.5,-0],"a":{"x":"é\n","x":null},"c":true}"#)
        XCTAssertNil(FuzzJSON.parse("{\"a\":1"))
        XCTAssertNil(FuzzJSON.parse("[1] x"))
    }

    func testGzipBombIsSmallAndInflatesAsClaimed() throws {
        let prefix = FuzzSeeds.idxLabels(count: 5).prefix(8)
        let bomb = FuzzGzip.bomb(prefix: Array(prefix), zeros: 256 << 20)
        XCTAssertLessThan(bomb.count, 400_000)
        XCTAssertEqual(FuzzGzip.prefix(of: bomb, limit: 8), Array(prefix))
        XCTAssertEqual(FuzzSeeds.idxStatedSize(FuzzGzip.prefix(of: bomb, limit: 16)), 13)
        // A small one inflates, CRC and ISIZE right, with the real decompressor.
        let small = FuzzGzip.bomb(prefix: Array(prefix), zeros: (1 << 20) + 5)
        let inflated = try Gzip.decompress(small, file: "bomb")
        XCTAssertEqual(inflated.count, 8 + (1 << 20) + 5)
        XCTAssertEqual(Array(inflated.prefix(8)), Array(prefix))
        XCTAssertTrue(inflated.dropFirst(8).allSatisfy { $0 == 0 })
    }

    func testRunnerClassifiesErrorsAndMemory() throws {
        let t = try IDXFuzzTarget(gzipped: false)
        let runner = FuzzRunner(target: t, seed: 1, directory: folder)
        var clean = 0
        for i in 0..<40 {
            let p = try runner.prepare(i)
            let r = runner.run(p)
            XCTAssertFalse(FileManager.default.fileExists(atPath: p.path), "the mutant's file is removed")
            XCTAssertNotEqual(r.outcome, .unnamedError, r.message)
            XCTAssertFalse(r.outcome.isFailure, "\(r.outcome): \(r.message)")
            if r.outcome == .cleanError { clean += 1; XCTAssertTrue(r.message.contains(p.path)) }
            XCTAssertEqual(r.limitBytes, FuzzRunner.baseAllowance + 2 * p.mutant.bytes.count)
        }
        XCTAssertGreaterThan(clean, 20)
    }

    func testPeakMemoryCanBeReset() throws {
        #if os(Linux)
        XCTAssertTrue(FuzzMemory.resetPeak(), "writing 5 to /proc/self/clear_refs is refused here")
        let before = FuzzMemory.peak
        let n = 200 << 20
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
        p.initialize(repeating: 1, count: n)
        XCTAssertGreaterThan(FuzzMemory.peak - before, 150 << 20)
        p.deallocate()
        XCTAssertTrue(FuzzMemory.resetPeak())
        XCTAssertLessThan(FuzzMemory.peak - FuzzMemory.resident, 16 << 20)
        #endif
    }
}
