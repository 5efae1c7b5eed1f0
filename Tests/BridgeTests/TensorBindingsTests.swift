import Bridge
import Engine
import XCTest

/// Tensors in Lua: construction, indexing, arithmetic, reductions, sorting, comparisons.
final class TensorBindingsTests: XCTestCase {
    var lua: LuaRuntime!
    override func setUpWithError() throws { lua = try LuaRuntime() }
    override func tearDown() { lua = nil }

    func tensor(_ expression: String) throws -> Tensor? { try evaluate(expression, lua).tensor }
    func number(_ expression: String) throws -> Double? { try evaluate(expression, lua).number }
    func string(_ expression: String) throws -> String? { try evaluate(expression, lua).string }

    func testConstructors() throws {
        XCTAssertTensor(try tensor("torch.Tensor(2, 3)"), shape: [2, 3], values: Array(repeating: 0, count: 6))
        XCTAssertTensor(try tensor("torch.Tensor{1, 2, 3}"), shape: [3], values: [1, 2, 3])
        XCTAssertTensor(try tensor("torch.Tensor{{1, 2}, {3, 4}, {5, 6}}"), shape: [3, 2], values: [1, 2, 3, 4, 5, 6])
        XCTAssertTensor(try tensor("torch.zeros(2, 2)"), shape: [2, 2], values: [0, 0, 0, 0])
        XCTAssertTensor(try tensor("torch.ones(3)"), shape: [3], values: [1, 1, 1])
        XCTAssertTensor(try tensor("torch.ones(torch.zeros(2, 1):size())"), shape: [2, 1], values: [1, 1])
        XCTAssertTensor(try tensor("torch.Tensor(torch.LongStorage{1, 2})"), shape: [1, 2], values: [0, 0])
        XCTAssertTensor(try tensor("torch.range(1, 4)"), shape: [4], values: [1, 2, 3, 4])
        XCTAssertEqual(try number("torch.Tensor():numel()"), 0)
    }

    func testTensorOfATensorSharesMemory() throws {
        XCTAssertTensor(try tensor("(function() local a = torch.zeros(2); local b = torch.Tensor(a); b[1] = 5; return a end)()"),
                        shape: [2], values: [5, 0])
    }

    func testRandomIsSeededByManualSeed() throws {
        let a = try tensor("(function() torch.manualSeed(3); return torch.rand(5) end)()")!
        let b = try tensor("(function() torch.manualSeed(3); return torch.rand(5) end)()")!
        XCTAssertEqual(a.scalars, b.scalars)
        XCTAssertTrue(a.scalars.allSatisfy { $0 >= 0 && $0 < 1 })
        let n = try tensor("(function() torch.manualSeed(1); return torch.randn(2000) end)()")!
        XCTAssertEqual(n.mean(), 0, accuracy: 0.1)
    }

    func testSizes() throws {
        try lua.run(string: "t = torch.zeros(2, 3, 4)")
        XCTAssertEqual(try number("t:size(1)"), 2)
        XCTAssertEqual(try number("t:size(-1)"), 4)
        XCTAssertEqual(try number("#t:size()"), 3)
        XCTAssertEqual(try number("t:size()[3]"), 4)
        XCTAssertEqual(try number("t:size():size()"), 3)
        XCTAssertEqual(try string("tostring(t:size())"), " 2\n 3\n 4\n[torch.LongStorage of size 3]\n")
        XCTAssertEqual(try number("t:dim()"), 3)
        XCTAssertEqual(try number("t:nDimension()"), 3)
        XCTAssertEqual(try number("t:numel()"), 24)
        XCTAssertEqual(try number("#t"), 2)
    }

    func testIndexingReadsAndWrites() throws {
        try lua.run(string: "m = torch.Tensor{{1, 2}, {3, 4}}; v = torch.Tensor{5, 6, 7}")
        XCTAssertEqual(try number("v[2]"), 6)
        XCTAssertEqual(try number("v[-1]"), 7)
        XCTAssertTensor(try tensor("m[2]"), shape: [2], values: [3, 4])
        XCTAssertEqual(try number("m[2][1]"), 3)
        XCTAssertEqual(try number("m[{2, 2}]"), 4)
        try lua.run(string: "v[1] = 9; m[1] = 0; m[2][2] = 8; m[{2, 1}] = -1")
        XCTAssertTensor(try tensor("v"), shape: [3], values: [9, 6, 7])
        XCTAssertTensor(try tensor("m"), shape: [2, 2], values: [0, 0, -1, 8])
        try lua.run(string: "m[1] = torch.Tensor{4, 5}")
        XCTAssertTensor(try tensor("m"), shape: [2, 2], values: [4, 5, -1, 8])
    }

    func testInPlaceMethodsReturnSelfAndChain() throws {
        XCTAssertTensor(try tensor("torch.Tensor{-1, 2, -3}:abs():add(1):mul(2)"), shape: [3], values: [4, 6, 8])
        XCTAssertEqual(try string("(function() local t = torch.zeros(2); return tostring(t:fill(3) == t) end)()"), "true")
        XCTAssertTensor(try tensor("torch.Tensor{1, 2}:add(torch.Tensor{10, 20})"), shape: [2], values: [11, 22])
        XCTAssertTensor(try tensor("torch.Tensor{1, 2}:add(2, torch.Tensor{10, 20})"), shape: [2], values: [21, 42])
        XCTAssertTensor(try tensor("torch.Tensor{0, 0}:add(torch.Tensor{1, 2}, torch.Tensor{10, 20})"), shape: [2], values: [11, 22])
        XCTAssertTensor(try tensor("torch.Tensor{2, 3}:cmul(torch.Tensor{4, 5})"), shape: [2], values: [8, 15])
        XCTAssertTensor(try tensor("torch.Tensor{8, 9}:cdiv(torch.Tensor{4, 3})"), shape: [2], values: [2, 3])
        XCTAssertTensor(try tensor("torch.Tensor{1, 2}:zero()"), shape: [2], values: [0, 0])
        XCTAssertTensor(try tensor("torch.Tensor{4, 9}:sqrt()"), shape: [2], values: [2, 3])
        XCTAssertTensor(try tensor("torch.Tensor{-2, 3}:pow(2)"), shape: [2], values: [4, 9])
    }

    func testFunctionalFormsReturnNewTensors() throws {
        try lua.run(string: "t = torch.Tensor{-1, 2}; a = torch.abs(t); s = torch.add(t, 1)")
        XCTAssertTensor(try tensor("t"), shape: [2], values: [-1, 2])
        XCTAssertTensor(try tensor("a"), shape: [2], values: [1, 2])
        XCTAssertTensor(try tensor("s"), shape: [2], values: [0, 3])
        XCTAssertEqual(try number("torch.sum(t)"), 1)
    }

    func testCloneIsIndependent() throws {
        XCTAssertTensor(try tensor("(function() local t = torch.ones(2); local c = t:clone(); c[1] = 5; return t end)()"),
                        shape: [2], values: [1, 1])
    }

    func testReductions() throws {
        try lua.run(string: "m = torch.Tensor{{1, 5, 2}, {7, 0, 3}}")
        XCTAssertEqual(try number("m:sum()"), 18)
        XCTAssertEqual(try number("m:mean()"), 3)
        XCTAssertEqual(try number("m:max()"), 7)
        XCTAssertEqual(try number("m:min()"), 0)
        XCTAssertTensor(try tensor("m:sum(1)"), shape: [1, 3], values: [8, 5, 5])
        XCTAssertTensor(try tensor("m:mean(2)"), shape: [2, 1], values: [8.0 / 3, 10.0 / 3], accuracy: 1e-6)
        let r = try lua.run(string: "return m:max(2)")
        XCTAssertTensor(r[0].tensor, shape: [2, 1], values: [5, 7])
        XCTAssertTensor(r[1].tensor, shape: [2, 1], values: [2, 1])
        let s = try lua.run(string: "return m:min(1)")
        XCTAssertTensor(s[0].tensor, shape: [1, 3], values: [1, 0, 2])
        XCTAssertTensor(s[1].tensor, shape: [1, 3], values: [1, 2, 1])
    }

    func testSortIsStableOnTiesAndOneBased() throws {
        var r = try lua.run(string: "return torch.Tensor{3, 1, 2, 1}:sort()")
        XCTAssertTensor(r[0].tensor, shape: [4], values: [1, 1, 2, 3])
        XCTAssertTensor(r[1].tensor, shape: [4], values: [2, 4, 3, 1])
        r = try lua.run(string: "return torch.Tensor{3, 1, 3, 2}:sort(true)")
        XCTAssertTensor(r[0].tensor, shape: [4], values: [3, 3, 2, 1])
        XCTAssertTensor(r[1].tensor, shape: [4], values: [1, 3, 4, 2])
        r = try lua.run(string: "return torch.Tensor{{3, 1}, {0, 2}}:sort(1)")
        XCTAssertTensor(r[0].tensor, shape: [2, 2], values: [0, 1, 3, 2])
        XCTAssertTensor(r[1].tensor, shape: [2, 2], values: [2, 1, 1, 2])
    }

    func testKthValueAndTopK() throws {
        var r = try lua.run(string: "return torch.Tensor{5, 1, 4, 1, 3}:kthvalue(2)")
        XCTAssertEqual(r[0].number, 1)
        XCTAssertEqual(r[1].number, 4)
        r = try lua.run(string: "return torch.Tensor{5, 1, 4, 1, 3}:kthvalue(4)")
        XCTAssertEqual(r[0].number, 4)
        XCTAssertEqual(r[1].number, 3)
        r = try lua.run(string: "return torch.Tensor{5, 1, 4, 1, 3}:topk(2)")
        XCTAssertTensor(r[0].tensor, shape: [2], values: [1, 1])
        XCTAssertTensor(r[1].tensor, shape: [2], values: [2, 4])
        r = try lua.run(string: "return torch.Tensor{5, 1, 4, 5, 3}:topk(3, true)")
        XCTAssertTensor(r[0].tensor, shape: [3], values: [5, 5, 4])
        XCTAssertTensor(r[1].tensor, shape: [3], values: [1, 4, 3])
        r = try lua.run(string: "return torch.Tensor{{5, 1, 4}, {0, 9, 2}}:kthvalue(1)")
        XCTAssertTensor(r[0].tensor, shape: [2, 1], values: [1, 0])
        XCTAssertTensor(r[1].tensor, shape: [2, 1], values: [2, 1])
    }

    func testComparisonsGiveFloatMasks() throws {
        try lua.run(string: "t = torch.Tensor{-2, 0.5, 1, 3}")
        XCTAssertTensor(try tensor("t:gt(0.5)"), shape: [4], values: [0, 0, 1, 1])
        XCTAssertTensor(try tensor("t:ge(0.5)"), shape: [4], values: [0, 1, 1, 1])
        XCTAssertTensor(try tensor("t:lt(1)"), shape: [4], values: [1, 1, 0, 0])
        XCTAssertTensor(try tensor("t:le(1)"), shape: [4], values: [1, 1, 1, 0])
        XCTAssertTensor(try tensor("t:eq(1)"), shape: [4], values: [0, 0, 1, 0])
        XCTAssertTensor(try tensor("t:ne(1)"), shape: [4], values: [1, 1, 0, 1])
        XCTAssertTensor(try tensor("t:gt(torch.Tensor{0, 0, 2, 2})"), shape: [4], values: [0, 1, 0, 1])
        XCTAssertTensor(try tensor("t:clone():abs():ge(1):cmul(t)"), shape: [4], values: [-2, 0, 1, 3])
    }

    func testViewSharesMemory() throws {
        try lua.run(string: "t = torch.zeros(2, 3); v = t:view(3, 2); v[3][2] = 7; w = t:view(-1)")
        XCTAssertTensor(try tensor("t"), shape: [2, 3], values: [0, 0, 0, 0, 0, 7])
        XCTAssertEqual(try number("w:size(1)"), 6)
        XCTAssertEqual(try number("t:view(torch.LongStorage{6}):dim()"), 1)
    }

    func testTotable() throws {
        XCTAssertEqual(try string("table.concat(torch.Tensor{{1, 2}, {3, 4}}:totable()[2], ',')"), "3.0,4.0")
        XCTAssertEqual(try number("#torch.Tensor{1, 2, 3}:totable()"), 3)
    }

    func testArithmeticMetamethods() throws {
        XCTAssertTensor(try tensor("torch.Tensor{1, 2} + torch.Tensor{10, 20}"), shape: [2], values: [11, 22])
        XCTAssertTensor(try tensor("torch.Tensor{1, 2} + 1"), shape: [2], values: [2, 3])
        XCTAssertTensor(try tensor("1 - torch.Tensor{1, 2}"), shape: [2], values: [0, -1])
        XCTAssertTensor(try tensor("torch.Tensor{1, 2} - torch.Tensor{1, 1}"), shape: [2], values: [0, 1])
        XCTAssertTensor(try tensor("2 * torch.Tensor{1, 2}"), shape: [2], values: [2, 4])
        XCTAssertTensor(try tensor("torch.Tensor{1, 2} * 3"), shape: [2], values: [3, 6])
        XCTAssertTensor(try tensor("torch.Tensor{2, 4} / 2"), shape: [2], values: [1, 2])
        XCTAssertTensor(try tensor("-torch.Tensor{2, -4}"), shape: [2], values: [-2, 4])
        XCTAssertEqual(try number("torch.Tensor{1, 2} * torch.Tensor{3, 4}"), 11)
        XCTAssertTensor(try tensor("torch.Tensor{{1, 2}, {3, 4}} * torch.Tensor{1, 1}"), shape: [2], values: [3, 7])
        XCTAssertTensor(try tensor("torch.Tensor{{1, 2}, {3, 4}} * torch.Tensor{{1, 0}, {0, 2}}"), shape: [2, 2], values: [1, 4, 3, 8])
    }

    func testToString() throws {
        XCTAssertEqual(try string("tostring(torch.Tensor{{1, 2, 3}, {4, 5, 60}})"),
                       "  1   2   3\n  4   5  60\n[torch.FloatTensor of size 2x3]\n")
        XCTAssertEqual(try string("tostring(torch.Tensor{0.5, -1.25})"),
                       " 0.5000\n-1.2500\n[torch.FloatTensor of size 2]\n")
        XCTAssertEqual(try string("tostring(torch.Tensor{1000000.5, 2000000})"),
                       "1e+06 *\n 1.0000\n 2.0000\n[torch.FloatTensor of size 2]\n")
        XCTAssertEqual(try string("tostring(torch.Tensor{1e-6, 1})"),
                       " 1.0000e-06\n 1.0000e+00\n[torch.FloatTensor of size 2]\n")
        XCTAssertEqual(try string("tostring(torch.Tensor{{{1, 2}}, {{3, 4}}})"),
                       "(1,.,.) = \n  1  2\n\n(2,.,.) = \n  3  4\n[torch.FloatTensor of size 2x1x2]\n")
        XCTAssertEqual(try string("tostring(torch.Tensor())"), "[torch.FloatTensor with no dimension]\n")
        XCTAssertEqual(try string("torch.type(torch.zeros(1))"), "torch.FloatTensor")
        XCTAssertEqual(try string("torch.zeros(1):type()"), "torch.FloatTensor")
    }

    func testBadArgumentsGiveClearErrors() throws {
        let cases: [(String, String)] = [
            ("local _ = torch.zeros(2)[3]", "index 3 out of range: dimension 1 has size 2 (1..2)"),
            ("torch.zeros(2)[0] = 1", "index 0 out of range"),
            ("local _ = torch.zeros(2)[1.5]", "tensor index 1.5 is not an integer"),
            ("torch.zeros(2):add(torch.zeros(3))", "bad argument #1 to 'add' (tensor of size 3 does not match size 2"),
            ("torch.zeros(2):cmul('x')", "bad argument #1 to 'cmul' (number or tensor expected, got string)"),
            ("torch.zeros(2, 3):view(4)", "cannot view a tensor of shape 2x3 (6 elements) as 4"),
            ("torch.zeros(2):size(2)", "bad argument #1 to 'size' (dimension 2 out of range for a 1D tensor)"),
            ("torch.zeros(-2)", "bad argument #1 to 'torch.zeros' (size -2 is not allowed"),
            ("torch.zeros(1e6, 1e6)", "is too large"),
            ("torch.Tensor{{1, 2}, {3}}", "inconsistent tensor size"),
            ("torch.Tensor{1, 'x'}", "entry [2] is a string, expected a number"),
            ("torch.zeros(3):kthvalue(4)", "kthvalue: k = 4 out of range 1..3"),
            ("torch.zeros(3):topk(5)", "topk: k = 5 out of range 0..3"),
            ("local _ = torch.zeros(3) + 'a'", "attempt to perform arithmetic (+) on a tensor and a string"),
            ("local _ = torch.zeros(3) + torch.zeros(2)", "sizes 3 and 2 do not match"),
            ("torch.zeros(3).foo = 1", "cannot set 'foo' on a torch.FloatTensor"),
            ("torch.zeros(3).add(5)", "calling 'add' on bad self (torch.FloatTensor expected, got number)"),
            ("torch.zeros(2, 2):max(3)", "dimension 3 out of range for a 2D tensor"),
            ("torch.Tensor():max()", "the tensor is empty"),
            ("local _ = torch.zeros(2) * torch.zeros(3)", "dot product of vectors of sizes 2 and 3"),
        ]
        for (source, expected) in cases {
            let e = luaError(source, lua)
            XCTAssertTrue(e?.message.hasPrefix("test:1: ") ?? false, "\(source): \(e?.message ?? "")")
            XCTAssertTrue(e?.message.contains(expected) ?? false, "\(source): got '\(e?.message ?? "")', expected '\(expected)'")
        }
    }

    func testUseAfterCloseIsAnError() throws {
        let e = luaError("do local t <close> = torch.zeros(2); u = t end; return u:sum()", lua)
        XCTAssertTrue(e?.message.contains("closed") ?? false, e?.message ?? "")
    }

    func testSameTensorGivesSameUserdata() throws {
        XCTAssertEqual(try string("(function() local m = nn.Linear(2, 2); return tostring(m.weight == m.weight) end)()"), "true")
    }
}
