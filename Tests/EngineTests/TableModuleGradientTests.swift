import XCTest
@testable import Engine

/// The table modules' gradients against finite differences, alone, nested in each other, in
/// a residual block (against the same block written by hand), and their errors on bad tables.
final class TableModuleGradientTests: XCTestCase {
    override func setUp() {
        GlobalRandom.seed(42)
    }

    private func table(_ shapes: [[Int]], seed: UInt64 = 7) -> Activation {
        .table(shapes.enumerated().map { i, s in .tensor(TestData.uniform(s, seed: seed + UInt64(i))) })
    }

    // MARK: each module

    func testConcatTableOfTensorModules() {
        let m = ConcatTable([Linear(4, 3), Tanh(), Identity()])
        assertGradients(m, activation: .tensor(TestData.uniform([5, 4])))
    }

    func testConcatTableOnATableInput() throws {
        let m = ConcatTable([Identity(), CAddTable(), try SelectTable(1)])
        assertGradients(m, activation: table([[2, 3], [2, 3]]))
    }

    func testParallelTable() {
        let m = ParallelTable([Linear(4, 2), Tanh(), Sequential([Linear(3, 3), Sigmoid()])])
        assertGradients(m, activation: table([[5, 4], [2, 6], [5, 3]]))
    }

    func testCAddTableAndItsInplaceFlag() {
        assertGradients(CAddTable(), activation: table([[3, 4], [3, 4], [3, 4]]))
        assertGradients(CAddTable(inplace: true), activation: table([[2, 2, 3]]))
        XCTAssertEqual(CAddTable(inplace: true).spec.options, ["inplace": 1])
    }

    func testCMulTable() {
        assertGradients(CMulTable(), activation: table([[3, 4], [3, 4], [3, 4]]))
        assertGradients(CMulTable(), activation: table([[6], [6]]))
    }

    func testCMulTableValues() throws {
        let y = try CMulTable().forward(table([[2, 3], [2, 3]])).tensor(for: "")
        let x = try table([[2, 3], [2, 3]]).tensors(for: "")
        for i in 0..<6 { XCTAssertEqual(y[i], x[0][i] * x[1][i]) }
    }

    func testJoinTableAlongEachDimension() throws {
        assertGradients(try JoinTable(2), activation: table([[2, 3], [2, 4]]))
        assertGradients(try JoinTable(1), activation: table([[2, 3], [1, 3], [3, 3]]))
        assertGradients(try JoinTable(-1), activation: table([[2, 2, 1], [2, 2, 3]]))
        // nInputDims = 3: channels of a 3D image, and of a 4D batch of them
        assertGradients(try JoinTable(1, nInputDims: 3), activation: table([[2, 2, 3], [1, 2, 3]]))
        assertGradients(try JoinTable(1, nInputDims: 3), activation: table([[2, 2, 3, 3], [2, 1, 3, 3]]))
        let y = try JoinTable(1, nInputDims: 3).forward(table([[2, 2, 3, 3], [2, 1, 3, 3]])).tensor(for: "")
        XCTAssertEqual(y.shape, [2, 3, 3, 3])
    }

    func testJoinTableValuesAreTheConcatenation() throws {
        let a = Tensor(shape: [2, 2], values: [1, 2, 3, 4]), b = Tensor(shape: [2, 1], values: [5, 6])
        let y = try JoinTable(2).forward(.table([.tensor(a), .tensor(b)])).tensor(for: "")
        XCTAssertEqual(y.shape, [2, 3])
        XCTAssertEqual(y.scalars, [1, 2, 5, 3, 4, 6])
    }

    func testSelectTableWithPositiveAndNegativeIndices() throws {
        let nested: Activation = .table([.tensor(TestData.uniform([2, 3])), table([[4], [1, 2]], seed: 11)])
        assertGradients(try SelectTable(1), activation: nested)
        assertGradients(try SelectTable(-1), activation: nested, .init(), "SelectTable(-1) of a nested table")
        assertGradients(try SelectTable(-2), activation: nested)
        let picked = try SelectTable(-1).forward(nested)
        XCTAssertEqual(picked.shapeDescription, "{4, 1x2}")
    }

    func testIdentityPassesTables() throws {
        let x = table([[2, 3], [4]])
        assertGradients(Identity(), activation: x)
        let y = try Identity().forward(x)
        XCTAssertTrue(y.flattened[0] === x.flattened[0], "the output is the input, as Torch")
    }

    // MARK: nesting

    /// Sequential ⊃ ConcatTable ⊃ Sequential ⊃ ConcatTable, with ParallelTable and every
    /// reducing module: depth 4.
    func testDeeplyNestedContainers() throws {
        let inner = Sequential([Linear(4, 4), Tanh(), ConcatTable([Identity(), Linear(4, 4)]), CAddTable()])
        let net = Sequential([
            Linear(3, 4),
            ConcatTable([inner, Sequential([Linear(4, 4), Sigmoid()]), Identity()]),
            ParallelTable([Tanh(), Identity(), Linear(4, 4)]),
            ConcatTable([CMulTable(), try JoinTable(2), try SelectTable(-1)]),
            try JoinTable(2),
            Linear(20, 2),
        ])
        assertGradients(net, TestData.uniform([3, 3]))
        let y = try net.forward(TestData.uniform([3, 3]))
        XCTAssertEqual(y.shape, [3, 2])
    }

    /// A Sequential that ends in a table gives the table through the activation path and a
    /// clear error through the tensor path.
    func testSequentialEndingInATable() throws {
        let net = Sequential([Linear(3, 4), ConcatTable([Identity(), Tanh()])])
        assertGradients(net, activation: .tensor(TestData.uniform([2, 3])))
        XCTAssertThrowsError(try net.forward(TestData.uniform([2, 3]))) { e in
            XCTAssertTrue("\(e)".contains("is a table"), "\(e)")
        }
    }

    /// Option A's shortcut of the CIFAR ResNets: stride-2 subsampling and zero channels.
    func testOptionAShortcut() throws {
        let shortcut = Sequential([SpatialAveragePooling(1, 1, 2, 2), ConcatTable([Identity(), MulConstant(0)]),
                                   try JoinTable(1, nInputDims: 3)])
        let x = TestData.uniform([2, 3, 4, 4])
        assertGradients(shortcut, x)
        let y = try shortcut.forward(x)
        XCTAssertEqual(y.shape, [2, 6, 2, 2])
        XCTAssertEqual(y[0], x[0])                         // (0,0,0,0) ← (0,0,0,0)
        XCTAssertEqual(y[1], x[2])                         // (0,0,0,1) ← (0,0,0,2)
        XCTAssertEqual(y[3 * 4], 0)                        // channel 3: a zero channel
        XCTAssertEqual(y[6 * 4], x[3 * 16])                // image 2 starts with its own channel 0
    }

    // MARK: a residual block against its hand-written composition

    func testResidualBasicBlockMatchesTheHandWrittenComposition() throws {
        let conv1 = SpatialConvolution(3, 3, 3, 3, 1, 1, 1, 1, bias: false), bn1 = try SpatialBatchNormalization(3)
        let conv2 = SpatialConvolution(3, 3, 3, 3, 1, 1, 1, 1, bias: false), bn2 = try SpatialBatchNormalization(3)
        let block = Sequential([
            ConcatTable([Sequential([conv1, bn1, ReLU(), conv2, bn2]), Identity()]),
            CAddTable(inplace: true), ReLU(),
        ])
        assertGradients(block, TestData.spaced([2, 3, 4, 4]), .init(step: 1e-3, rtol: 2e-2, atol: 3e-3))

        // The same weights in separate modules, the composition relu(bn2(conv2(relu(bn1(conv1 x)))) + x)
        let c1 = try conv1.deepCopy(), b1 = try bn1.deepCopy(), c2 = try conv2.deepCopy(), b2 = try bn2.deepCopy()
        let r1 = ReLU(), r2 = ReLU()
        let x = TestData.uniform([2, 3, 4, 4], seed: 3), g = TestData.uniform([2, 3, 4, 4], seed: 4)
        let a1 = try c1.forward(x), a2 = try b1.forward(a1), a3 = try r1.forward(a2), a4 = try c2.forward(a3), a5 = try b2.forward(a4)
        let sum = a5.clone()
        sum.add(x)
        let expected = try r2.forward(sum)
        let y = try block.forward(x)
        XCTAssertEqual(y.scalars, expected.scalars)

        block.zeroGradParameters()
        for m in [c1, b1, c2, b2] { m.zeroGradParameters() }
        let gx = try block.backward(x, g)
        let gs = try r2.backward(sum, g)
        let g4 = try b2.backward(a4, gs), g3 = try c2.backward(a3, g4), g2 = try r1.backward(a2, g3)
        let g1 = try b1.backward(a1, g2), g0 = try c1.backward(x, g1)
        let expectedGx = g0.clone()
        expectedGx.add(gs)
        XCTAssertEqual(gx.scalars, expectedGx.scalars)
        for (mine, theirs) in zip(block.allParameters, [c1, b1, c2, b2].flatMap(\.parameters)) {
            XCTAssertEqual(mine.grad.scalars, theirs.grad.scalars, mine.name)
        }
    }

    // MARK: bad tables give errors, never a crash

    private func assertError(_ body: @autoclosure () throws -> Any, contains text: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains(text), "\(e)", file: file, line: line)
        }
    }

    func testBadTablesGiveClearErrors() throws {
        assertError(try ParallelTable([Identity(), Identity()]).forward(table([[2], [2], [2]])),
                    contains: "the input table has 3 entries, the container has 2 modules")
        assertError(try CAddTable().forward(table([[2, 3], [2, 4]])), contains: "input 2 has size 2x4, input 1 has 2x3")
        assertError(try CMulTable().forward(table([[2, 3], [3, 2]])), contains: "input 2 has size 3x2")
        assertError(try JoinTable(2).forward(table([[2, 3], [3, 3]])), contains: "may differ only in dimension 2")
        assertError(try JoinTable(3).forward(table([[2, 3], [2, 3]])), contains: "dimension 3 does not exist in 2D inputs")
        assertError(try JoinTable(1).forward(table([[2, 3], [2, 3, 1]])), contains: "the same number of dimensions")
        assertError(try SelectTable(3).forward(table([[2], [2]])), contains: "index 3 does not exist in a table of 2 entries")
        assertError(try SelectTable(-3).forward(table([[2], [2]])), contains: "index -3 does not exist")
        assertError(try CAddTable().forward(.tensor(TestData.uniform([2, 2]))), contains: "nn.CAddTable: expected a table, got a tensor of size 2x2")
        assertError(try CAddTable().forward(.table([])), contains: "empty table")
        assertError(try Linear(2, 2).forward(table([[2, 2]])), contains: "expected a tensor, got a table of 1 entries")
        assertError(try ConcatTable().forward(.tensor(TestData.uniform([2]))), contains: "has no modules")
        assertError(try JoinTable(0), contains: "nonzero")
        assertError(try SelectTable(0), contains: "nonzero")

        let c = ConcatTable([Identity(), Identity()])
        let x: Activation = .tensor(TestData.uniform([2, 2]))
        _ = try c.forward(x)
        assertError(try c.backward(x, table([[2, 2]])), contains: "gradOutput has 1 entries, the container has 2 modules")
        assertError(try c.backward(x, table([[2, 2], [3]])), contains: "module 2 (nn.Identity) backward: nn.Identity: gradOutput has 3 elements")
        let add = CAddTable()
        let pair = table([[2, 2], [2, 2]])
        _ = try add.forward(pair)
        assertError(try add.backward(pair, .tensor(TestData.uniform([4]))), contains: "gradOutput has size 4, the output 2x2")
        // inside a Sequential the error names the layer
        let net = Sequential([ConcatTable([Identity(), Linear(2, 3)]), CAddTable()])
        assertError(try net.forward(TestData.uniform([1, 2])), contains: "layer 2 (nn.CAddTable): nn.CAddTable: input 2 has size 1x3")
    }
}
