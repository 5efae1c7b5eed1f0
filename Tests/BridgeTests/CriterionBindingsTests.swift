import Bridge
import Engine
import XCTest

/// Criteria in Lua: 1-based class targets are converted to the Engine's 0-based labels.
final class CriterionBindingsTests: XCTestCase {
    var lua: LuaRuntime!
    override func setUpWithError() throws { lua = try LuaRuntime() }
    override func tearDown() { lua = nil }

    func testCrossEntropyTakesOneBasedTargets() throws {
        try lua.run(string: """
            c = nn.CrossEntropyCriterion()
            x = torch.Tensor{{1, 2, 3}, {0, 0, 5}}
            loss = c:forward(x, torch.Tensor{3, 1})
            g = c:backward(x, torch.Tensor{3, 1})
            single = c:forward(torch.Tensor{1, 2, 3}, 3)
            """)
        let x = Tensor(shape: [2, 3], values: [1, 2, 3, 0, 0, 5])
        let engine = CrossEntropyCriterion()
        let target = Tensor(shape: [2], values: [2, 0])
        let loss = try engine.forward(x, target)
        XCTAssertEqual(lua.global("loss").number ?? .nan, Double(loss), accuracy: 1e-6)
        let g = try engine.backward(x, target)
        XCTAssertTensor(lua.global("g").tensor, shape: [2, 3], values: g.scalars, accuracy: 1e-7)
        let single = try CrossEntropyCriterion().forward(Tensor(shape: [3], values: [1, 2, 3]), Tensor(shape: [1], values: [2]))
        XCTAssertEqual(lua.global("single").number ?? .nan, Double(single), accuracy: 1e-6)
    }

    func testClassNLLAfterLogSoftMaxEqualsCrossEntropy() throws {
        let r = try lua.run(string: """
            local x = torch.Tensor{{0.5, -1, 2}, {3, 0, 1}}
            local t = torch.Tensor{2, 1}
            local a = nn.CrossEntropyCriterion():forward(x, t)
            local b = nn.ClassNLLCriterion():forward(nn.LogSoftMax():forward(x), t)
            return a, b
            """, chunkName: "test")
        XCTAssertEqual(r[0].number ?? .nan, r[1].number ?? 0, accuracy: 1e-6)
    }

    func testMSEUsesTargetsAsTheyAre() throws {
        XCTAssertEqual(try evaluate("nn.MSECriterion():forward(torch.Tensor{1, 2}, torch.Tensor{1, 4})", lua).number, 2)
        XCTAssertEqual(try evaluate("(function() local c = nn.MSECriterion(); c.sizeAverage = false; return c:forward(torch.Tensor{1, 2}, torch.Tensor{1, 4}) end)()", lua).number, 4)
        XCTAssertEqual(try evaluate("tostring(nn.MSECriterion())", lua).string, "nn.MSECriterion")
    }

    func testBadTargetsGiveClearErrors() throws {
        let cases: [(String, String)] = [
            ("nn.CrossEntropyCriterion():forward(torch.zeros(2, 3), torch.Tensor{0, 1})", "at position 1 is not a class in 1..3"),
            ("nn.CrossEntropyCriterion():forward(torch.zeros(2, 3), torch.Tensor{1})", "1 targets for a batch of 2"),
            ("nn.CrossEntropyCriterion():forward(torch.zeros(2, 3), 'a')", "bad argument #2 to 'forward' (torch.FloatTensor expected, got string)"),
            ("nn.CrossEntropyCriterion(torch.ones(3))", "class weights are not supported"),
            ("nn.MSECriterion():forward(torch.zeros(2), torch.zeros(3))", "input has 2 elements"),
        ]
        for (source, expected) in cases {
            let e = luaError(source, lua)
            XCTAssertTrue(e?.message.contains(expected) ?? false, "\(source): got '\(e?.message ?? "")', expected '\(expected)'")
        }
    }
}
