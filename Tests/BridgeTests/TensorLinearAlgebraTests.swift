import Bridge
import Engine
import XCTest

/// Products, transposes, repetition and the pointwise functions in Lua, against values
/// worked out by hand. A = [[1 2 3] [4 5 6]], B = [[1 0] [0 1] [1 1]], so A·B = [[4 5] [10 11]].
final class TensorLinearAlgebraTests: XCTestCase {
    var lua: LuaRuntime!
    override func setUpWithError() throws {
        lua = try LuaRuntime()
        try lua.run(string: """
            A = torch.Tensor{{1, 2, 3}, {4, 5, 6}}
            B = torch.Tensor{{1, 0}, {0, 1}, {1, 1}}
            C = torch.ones(2, 2)
            """)
    }
    override func tearDown() { lua = nil }

    func tensor(_ expression: String) throws -> Tensor? { try evaluate(expression, lua).tensor }
    func number(_ expression: String) throws -> Double? { try evaluate(expression, lua).number }
    func message(_ source: String) -> String { luaError(source, lua)?.message ?? "" }

    func testMatrixAndVectorProducts() throws {
        XCTAssertTensor(try tensor("torch.mm(A, B)"), shape: [2, 2], values: [4, 5, 10, 11])
        XCTAssertTensor(try tensor("torch.Tensor():mm(A, B)"), shape: [2, 2], values: [4, 5, 10, 11])
        XCTAssertTensor(try tensor("torch.zeros(4):mm(A, B)"), shape: [2, 2], values: [4, 5, 10, 11])
        XCTAssertTensor(try tensor("A * B"), shape: [2, 2], values: [4, 5, 10, 11])
        XCTAssertTensor(try tensor("torch.mv(A, torch.Tensor{1, 1, 1})"), shape: [2], values: [6, 15])
        XCTAssertTensor(try tensor("torch.Tensor(2):mv(A, torch.Tensor{1, 0, -1})"), shape: [2], values: [-2, -2])
        // the result may be an operand: it is read before it is written
        XCTAssertTensor(try tensor("(function() local S = torch.Tensor{{1, 2}, {3, 4}}; return S:mm(S, S) end)()"),
                        shape: [2, 2], values: [7, 10, 15, 22])
    }

    func testAddmmArgumentForms() throws {
        // r = β·M + α·A·B
        XCTAssertTensor(try tensor("torch.addmm(C, A, B)"), shape: [2, 2], values: [5, 6, 11, 12])
        XCTAssertTensor(try tensor("torch.addmm(2, C, 3, A, B)"), shape: [2, 2], values: [14, 17, 32, 35])
        XCTAssertTensor(try tensor("(function() local r = torch.Tensor(); torch.addmm(r, 2, C, 3, A, B); return r end)()"),
                        shape: [2, 2], values: [14, 17, 32, 35])
        XCTAssertTensor(try tensor("torch.ones(2, 2):addmm(A, B)"), shape: [2, 2], values: [5, 6, 11, 12])
        // one number alone is α (torch/nn's gradWeight:addmm(scale, ...))
        XCTAssertTensor(try tensor("torch.ones(2, 2):addmm(2, A, B)"), shape: [2, 2], values: [9, 11, 21, 23])
        XCTAssertTensor(try tensor("torch.ones(2, 2):addmm(0, 1, A, B)"), shape: [2, 2], values: [4, 5, 10, 11])
        XCTAssertTensor(try tensor("torch.zeros(2, 2):addmm(2, C, A, B)"), shape: [2, 2], values: [6, 7, 12, 13])
        XCTAssertTensor(try tensor("torch.zeros(2, 2):addmm(C, 2, A, B)"), shape: [2, 2], values: [9, 11, 21, 23])
        XCTAssertTensor(try tensor("torch.zeros(2, 2):addmm(2, C, 3, A, B)"), shape: [2, 2], values: [14, 17, 32, 35])
        // C is untouched by the function forms
        XCTAssertTensor(try tensor("C"), shape: [2, 2], values: [1, 1, 1, 1])
    }

    func testAddmvAndAddr() throws {
        XCTAssertTensor(try tensor("torch.ones(2):addmv(2, 1, A, torch.Tensor{1, 1, 1})"), shape: [2], values: [8, 17])
        XCTAssertTensor(try tensor("torch.addmv(torch.Tensor{1, 2}, A, torch.Tensor{1, 1, 1})"), shape: [2], values: [7, 17])
        // outer product {1, 2} ⊗ {3, 4, 5} = [[3 4 5] [6 8 10]]
        XCTAssertTensor(try tensor("torch.zeros(2, 3):addr(torch.Tensor{1, 2}, torch.Tensor{3, 4, 5})"),
                        shape: [2, 3], values: [3, 4, 5, 6, 8, 10])
        XCTAssertTensor(try tensor("torch.ones(2, 3):addr(0.5, torch.Tensor{1, 2}, torch.Tensor{3, 4, 5})"),
                        shape: [2, 3], values: [2.5, 3, 3.5, 4, 5, 6])
        XCTAssertTensor(try tensor("torch.ones(2, 3):addr(2, 0.5, torch.Tensor{1, 2}, torch.Tensor{3, 4, 5})"),
                        shape: [2, 3], values: [3.5, 4, 4.5, 5, 6, 7])
        XCTAssertTensor(try tensor("torch.addr(torch.zeros(2, 3), torch.Tensor{1, 2}, torch.Tensor{3, 4, 5})"),
                        shape: [2, 3], values: [3, 4, 5, 6, 8, 10])
    }

    func testTransposeAndRepeat() throws {
        XCTAssertTensor(try tensor("A:t()"), shape: [3, 2], values: [1, 4, 2, 5, 3, 6])
        XCTAssertTensor(try tensor("torch.t(A)"), shape: [3, 2], values: [1, 4, 2, 5, 3, 6])
        XCTAssertTensor(try tensor("A:transpose(1, 2)"), shape: [3, 2], values: [1, 4, 2, 5, 3, 6])
        // 2x1x3 with dimensions 1 and 3 swapped: out[k][1][i] = in[i][1][k]
        XCTAssertTensor(try tensor("A:view(2, 1, 3):transpose(1, 3)"), shape: [3, 1, 2], values: [1, 4, 2, 5, 3, 6])
        XCTAssertTensor(try tensor("A:view(2, 1, 3):transpose(-1, 2)"), shape: [2, 3, 1], values: [1, 2, 3, 4, 5, 6])
        XCTAssertTensor(try tensor("(function() local t = A:t(); t[1][1] = 9; return A end)()"),
                        shape: [2, 3], values: [1, 2, 3, 4, 5, 6])   // a copy, not a view
        XCTAssertTensor(try tensor("torch.Tensor{1, 2}:repeatTensor(2, 2)"), shape: [2, 4], values: [1, 2, 1, 2, 1, 2, 1, 2])
        XCTAssertTensor(try tensor("torch.Tensor{{1}, {2}}:repeatTensor(1, 3)"), shape: [2, 3], values: [1, 1, 1, 2, 2, 2])
    }

    func testPointwiseFunctionsAndMethods() throws {
        let e = Float(M_E)
        XCTAssertTensor(try tensor("torch.exp(torch.Tensor{0, 1})"), shape: [2], values: [1, e], accuracy: 1e-6)
        XCTAssertTensor(try tensor("torch.Tensor{1, 4}:log()"), shape: [2], values: [0, Float(log(4.0))], accuracy: 1e-6)
        XCTAssertTensor(try tensor("torch.tanh(torch.Tensor{0, 1, -1})"), shape: [3], values: [0, 0.7615942, -0.7615942], accuracy: 1e-6)
        XCTAssertTensor(try tensor("torch.Tensor{0, 2}:sigmoid()"), shape: [2], values: [0.5, 0.8807971], accuracy: 1e-6)
        XCTAssertTensor(try tensor("(function() local x = torch.Tensor{1, 2}; torch.exp(x); torch.sigmoid(x); return x end)()"),
                        shape: [2], values: [1, 2])
        XCTAssertTensor(try tensor("torch.cmul(torch.Tensor{1, 2, 3, 4}, torch.Tensor{{1, 2}, {3, 4}})"), shape: [4], values: [1, 4, 9, 16])
        XCTAssertEqual(try number("torch.Tensor{3, 4}:norm()"), 5)
        XCTAssertEqual(try number("torch.Tensor{3, -4}:norm(1)"), 7)
        XCTAssertEqual(try number("torch.Tensor{3, 4}:norm(3)") ?? 0, pow(91, 1.0 / 3), accuracy: 1e-12)
    }

    func testShapeErrorsNameBothShapes() {
        XCTAssertTrue(message("torch.mm(A, C)").contains("2x3 and 2x2"), message("torch.mm(A, C)"))
        XCTAssertTrue(message("return A * C").contains("2x3 and 2x2"))
        XCTAssertTrue(message("torch.mv(A, torch.zeros(2))").contains("2x3"))
        XCTAssertTrue(message("torch.addmm(torch.zeros(3, 3), A, B)").contains("3x3"))
        XCTAssertTrue(message("torch.zeros(5):mm(A, B)").contains("the result tensor has size 5"))
        XCTAssertTrue(message("torch.zeros(2, 3):addr(A, B)").contains("expected two vectors (1D), got 2D (2x3) and 2D (3x2)"))
        XCTAssertTrue(message("torch.zeros(2):t()").contains("t(): expected a matrix (2D), got a 1D tensor (2)"))
        XCTAssertTrue(message("A:transpose(1, 3)").contains("dimension 3 out of range for a 2D tensor"))
        XCTAssertTrue(message("A:repeatTensor(2)").contains("1 repetition counts for a 2D tensor"))
        XCTAssertTrue(message("C:addmm('x', A, B)").contains("number or tensor expected, got string"))
        XCTAssertTrue(message("C:addmm(A)").contains("expected addmm([beta,] [M,] [alpha,] A, B)"))
        XCTAssertTrue(message("A:norm(0)").contains("p must be a finite number > 0"))
        let m = message("\n\ntorch.mm(A, C)")
        XCTAssertTrue(m.hasPrefix("test:3:"), "the error names the script line: \(m)")
    }
}
