import Bridge
import Engine
import XCTest

/// nn modules in Lua: containers, training calls, parameters shared with the model, masks.
final class ModuleBindingsTests: XCTestCase {
    var lua: LuaRuntime!
    override func setUpWithError() throws { lua = try LuaRuntime() }
    override func tearDown() { lua = nil }

    func value(_ expression: String) throws -> LuaValue { try evaluate(expression, lua) }

    /// Every module type the Engine can build (ModuleFactory) and every criterion class has
    /// its `nn.<Name>` constructor in Lua.
    func testEveryEngineModuleAndCriterionIsBound() throws {
        let factory = try String(contentsOf: repositoryRoot.appendingPathComponent("Sources/Engine/Layers/ModuleFactory.swift"), encoding: .utf8)
        let modules = factory.components(separatedBy: "case \"nn.").dropFirst().map { $0.prefix { $0 != "\"" } }
        XCTAssertGreaterThanOrEqual(modules.count, 15)
        let criteriaDir = repositoryRoot.appendingPathComponent("Sources/Engine/Criteria")
        let criteria = try FileManager.default.contentsOfDirectory(atPath: criteriaDir.path)
            .filter { $0.hasSuffix("Criterion.swift") && $0 != "Criterion.swift" }
            .map { String($0.dropLast(".swift".count)) }
        XCTAssertGreaterThanOrEqual(criteria.count, 3)
        for name in modules.map(String.init) + criteria {
            XCTAssertEqual(try value("type(nn.\(name))").string, "function", "nn.\(name) is not bound")
        }
    }

    /// m:freeze() keeps a layer's weights bit for bit through training, m:unfreeze() trains it
    /// again; m.learningRateScale = 0 does the same through the optimiser.
    func testFreezeUnfreezeAndLearningRateScaleFromLua() throws {
        try lua.run(string: """
            torch.manualSeed(2)
            net = nn.Sequential():add(nn.Linear(3, 4)):add(nn.Tanh()):add(nn.Linear(4, 2))
            local x, target = torch.randn(16, 3), torch.Tensor(16):fill(1)
            local function same(a, b) return a:clone():csub(b):abs():sum() == 0 end
            function steps(n)
              local criterion = nn.CrossEntropyCriterion()
              for i = 1, n do
                net:zeroGradParameters()
                local y = net:forward(x)
                criterion:forward(y, target)
                net:backward(x, criterion:backward(y, target))
                net:updateParameters(0.5)
              end
            end
            first = net:get(1).weight:clone()
            last = net:get(3).weight:clone()
            net:get(1):freeze()
            frozenFlag = net:get(1).isFrozen
            steps(3)
            sameFirst = same(net:get(1).weight, first)
            movedLast = not same(net:get(3).weight, last)
            net:get(1):unfreeze()
            steps(1)
            movedFirst = not same(net:get(1).weight, first)
            """)
        XCTAssertEqual(try value("tostring(frozenFlag)").string, "true")
        XCTAssertEqual(try value("tostring(sameFirst)").string, "true")
        XCTAssertEqual(try value("tostring(movedLast)").string, "true")
        XCTAssertEqual(try value("tostring(movedFirst)").string, "true")
        XCTAssertEqual(try value("tostring(net:get(1).isFrozen)").string, "false")
        try lua.run(string: "net.learningRateScale = 0.25")
        XCTAssertEqual(try value("net:get(3).learningRateScale").number, 0.25)
        XCTAssertThrowsError(try lua.run(string: "net.learningRateScale = -1"))
    }

    func testSequentialContainerMethods() throws {
        try lua.run(string: """
            m = nn.Sequential():add(nn.Linear(4, 3)):add(nn.Tanh())
            m:add(nn.Linear(3, 2))
            """)
        XCTAssertEqual(try value("m:size()").number, 3)
        XCTAssertEqual(try value("#m").number, 3)
        XCTAssertEqual(try value("torch.type(m:get(1))").string, "nn.Linear")
        XCTAssertEqual(try value("torch.type(m[2])").string, "nn.Tanh")
        XCTAssertEqual(try value("torch.type(m.modules[3])").string, "nn.Linear")
        XCTAssertEqual(try value("#m.modules").number, 3)
        try lua.run(string: "m:insert(nn.Sigmoid(), 2)")
        XCTAssertEqual(try value("torch.type(m:get(2)) .. torch.type(m:get(3))").string, "nn.Sigmoidnn.Tanh")
        XCTAssertEqual(try value("torch.type(m:remove(2))").string, "nn.Sigmoid")
        XCTAssertEqual(try value("torch.type(m:remove())").string, "nn.Linear")
        XCTAssertEqual(try value("m:size()").number, 2)
        XCTAssertTrue(try value("m[5]").isNil)
    }

    func testForwardBackwardAndParameterUpdate() throws {
        try lua.run(string: """
            torch.manualSeed(1)
            m = nn.Sequential():add(nn.Linear(3, 2))
            x = torch.Tensor{{1, 2, 3}}
            w0 = m:get(1).weight:clone()
            y = m:forward(x)
            m:zeroGradParameters()
            gi = m:backward(x, torch.Tensor{{1, -1}})
            m:updateParameters(0.1)
            """)
        let m = try XCTUnwrap(lua.global("m").module as? Sequential)
        let linear = try XCTUnwrap(m.modules[0] as? Linear)
        XCTAssertTensor(try value("m:get(1).gradWeight").tensor, shape: [2, 3], values: [1, 2, 3, -1, -2, -3])
        XCTAssertTensor(try value("m:get(1).gradBias").tensor, shape: [2], values: [1, -1])
        let w0 = try XCTUnwrap(lua.global("w0").tensor)
        let expected = zip(w0.scalars, [1, 2, 3, -1, -2, -3] as [Float]).map { $0 - 0.1 * $1 }
        XCTAssertTensor(linear.weightParameter.value, shape: [2, 3], values: expected, accuracy: 1e-6)
        XCTAssertEqual(try value("gi:size(2)").number, 3)
    }

    func testWeightsShareMemoryWithTheModel() throws {
        try lua.run(string: """
            m = nn.Linear(2, 1)
            m.weight:fill(2)
            m.bias[1] = 1
            y = m:forward(torch.Tensor{3, 4})[1]
            """)
        XCTAssertEqual(lua.global("y").number, 15)
        let m = try XCTUnwrap(lua.global("m").module as? Linear)
        XCTAssertEqual(m.weightParameter.value.scalars, [2, 2])
        try lua.run(string: "m.weight = torch.Tensor{{5, 6}}")
        XCTAssertEqual(m.weightParameter.value.scalars, [5, 6])
    }

    func testParametersReturnsWeightsAndGradients() throws {
        try lua.run(string: """
            m = nn.Sequential():add(nn.Linear(2, 3)):add(nn.Tanh()):add(nn.Linear(3, 1, false))
            p, g = m:parameters()
            """)
        XCTAssertEqual(try value("#p .. ',' .. #g").string, "3,3")
        XCTAssertEqual(try value("p[1] == m:get(1).weight and g[2] == m:get(1).gradBias and p[3] == m:get(3).weight").description, "true")
        XCTAssertTrue(try value("m:get(3).bias").isNil)
    }

    func testTrainingAndEvaluateModes() throws {
        try lua.run(string: "m = nn.Sequential():add(nn.Dropout(0.5)); m:evaluate()")
        XCTAssertEqual(try value("m.train").description, "false")
        XCTAssertEqual(try value("m:get(1).train").description, "false")
        XCTAssertTensor(try value("m:forward(torch.ones(4))").tensor, shape: [4], values: [1, 1, 1, 1])
        try lua.run(string: "m:training()")
        XCTAssertEqual(try value("m:get(1).train").description, "true")
        XCTAssertEqual(try value("m:get(1).p").number, 0.5)
    }

    /// m:freeze{evaluate = true} freezes and pins to evaluation mode: training() of the model
    /// leaves the batch norm normalising with its running statistics (as in evaluation) and the
    /// dropout passing its input through; m:unfreeze() unpins.
    func testFreezeWithEvaluatePinsTheModuleToEvaluationMode() throws {
        try lua.run(string: """
            torch.manualSeed(3)
            net = nn.Sequential():add(nn.Linear(4, 3)):add(nn.BatchNormalization(3)):add(nn.Linear(3, 3))
                                 :add(nn.BatchNormalization(3)):add(nn.Dropout(0.5))
            local x = torch.randn(8, 4)
            local function same(a, b) return a:clone():csub(b):abs():max() == 0 end
            net:get(2):freeze{evaluate = true}
            net:get(5):freeze{evaluate = true}
            net:training()
            modes = {net:get(2).train, net:get(4).train, net:get(5).train, net:get(2).isEvaluationPinned, net:get(2).isFrozen}
            local pinned = net:forward(x)
            local bn1, out = net:get(2).output:clone(), pinned:clone()
            passedThrough = same(out, net:get(4).output)
            net:evaluate()
            net:forward(x)
            sameAsEvaluation = same(bn1, net:get(2).output)
            net:get(2):unfreeze()
            net:training()
            net:forward(x)
            unpinned = {net:get(2).train, net:get(2).isEvaluationPinned, net:get(2).isFrozen}
            batchStatistics = not same(bn1, net:get(2).output)
            net:get(5).isEvaluationPinned = false
            net:training()
            dropoutBack = net:get(5).train
            plain = nn.Linear(2, 2):freeze()
            plainPinned = plain.isEvaluationPinned
            """)
        XCTAssertEqual(try value("table.concat({tostring(modes[1]), tostring(modes[2]), tostring(modes[3]), tostring(modes[4]), tostring(modes[5])}, ' ')").string,
                       "false true false true true")
        for v in ["passedThrough", "sameAsEvaluation", "batchStatistics", "dropoutBack"] {
            XCTAssertEqual(try value("tostring(\(v))").string, "true", v)
        }
        XCTAssertEqual(try value("tostring(unpinned[1]) .. tostring(unpinned[2]) .. tostring(unpinned[3])").string, "truefalsefalse")
        XCTAssertEqual(try value("tostring(plainPinned)").string, "false", "m:freeze() does not pin")
        for (source, expected) in [("nn.Linear(2, 2):freeze{evaluate = 1}", "option 'evaluate' must be a boolean"),
                                   ("nn.Linear(2, 2):freeze{eval = true}", "unknown option 'eval'"),
                                   ("nn.Linear(2, 2).isEvaluationPinned = 'yes'", "must be set to true or false")] {
            let e = luaError(source, lua)
            XCTAssertTrue(e?.message.contains(expected) ?? false, "\(source): \(e?.message ?? "no error")")
        }
    }

    func testMasksKeepPrunedWeightsAtZero() throws {
        try lua.run(string: """
            m = nn.Linear(2, 2)
            m.weight:copy(torch.Tensor{{1, 2}, {3, 4}})
            m:setMask(m.weight:clone():abs():gt(2))
            """)
        let m = try XCTUnwrap(lua.global("m").module as? Linear)
        XCTAssertEqual(m.weightParameter.value.scalars, [0, 0, 3, 4])
        XCTAssertTensor(try value("m.mask").tensor, shape: [2, 2], values: [0, 0, 1, 1])
        try lua.run(string: """
            m:zeroGradParameters()
            m:forward(torch.Tensor{1, 1})
            m:backward(torch.Tensor{1, 1}, torch.Tensor{1, 1})
            m:updateParameters(1)
            """)
        XCTAssertEqual(m.weightParameter.value.scalars, [0, 0, 2, 3])
        try lua.run(string: "m:removeMask()")
        XCTAssertTrue(try value("m.mask").isNil)
        XCTAssertTrue(luaError("nn.Tanh():setMask(torch.ones(1))", lua)?.message.contains("nn.Tanh has no weights") ?? false)
        XCTAssertTrue(luaError("m:setMask(torch.ones(3))", lua)?.message.contains("mask has 3 elements") ?? false)
    }

    func testPoolingCeilAndFloor() throws {
        try lua.run(string: "p = nn.SpatialMaxPooling(3, 3, 2, 2):ceil(); x = torch.zeros(1, 1, 6, 6)")
        XCTAssertEqual(try value("p:forward(x):size(3)").number, 3)
        XCTAssertEqual(try value("p.ceilMode").description, "true")
        try lua.run(string: "p:floor()")
        XCTAssertEqual(try value("p:forward(x):size(3)").number, 2)
        XCTAssertEqual(try value("p.kW + p.dH").number, 5)
    }

    func testCustomFieldsStayWithTheModule() throws {
        try lua.run(string: "m = nn.Sequential():add(nn.Linear(1, 1)); m:get(1).name = 'fc'")
        XCTAssertEqual(try value("m:get(1).name").string, "fc")
        XCTAssertEqual(try value("m.modules[1].name").string, "fc")
        // The Lua object that showed the layer is collected; the fields stay with the layer.
        try lua.run(string: "collectgarbage('collect'); collectgarbage('collect')")
        XCTAssertEqual(try value("m:get(1).name").string, "fc")
        try lua.run(string: "m:get(1).name = nil; collectgarbage('collect')")
        XCTAssertTrue(try value("m:get(1).name").isNil)
    }

    func testFindModulesAndClone() throws {
        try lua.run(string: """
            m = nn.Sequential():add(nn.Linear(2, 2)):add(nn.Tanh()):add(nn.Sequential():add(nn.Linear(2, 1)))
            found = m:findModules('nn.Linear')
            c = m:clone()
            c:get(1).weight:fill(7)
            """)
        XCTAssertEqual(try value("#found").number, 2)
        XCTAssertEqual(try value("m:get(1).weight[1][1] ~= 7 and c:get(1).weight[1][1] == 7").description, "true")
        XCTAssertEqual(try value("tostring(c)").string, try value("tostring(m)").string)
    }

    func testToStringOfModules() throws {
        XCTAssertEqual(try value("tostring(nn.Linear(3, 2))").string, "nn.Linear(3 -> 2)")
        XCTAssertEqual(try value("tostring(nn.SpatialConvolution(1, 6, 5, 5, 1, 1, 2, 2))").string,
                       "nn.SpatialConvolution(1 -> 6, 5x5, 1,1, 2,2)")
        XCTAssertEqual(try value("tostring(nn.Sequential():add(nn.Tanh()):add(nn.Sequential():add(nn.Tanh())))").string, """
            nn.Sequential {
              [input -> (1) -> (2) -> output]
              (1): nn.Tanh
              (2): nn.Sequential {
                [input -> (1) -> output]
                (1): nn.Tanh
              }
            }
            """)
    }

    func testBadModuleArgumentsGiveClearErrors() throws {
        let cases: [(String, String)] = [
            ("nn.Linear(3)", "bad argument #2 to 'nn.Linear' (number expected, got no value)"),
            ("nn.Linear('a', 2)", "bad argument #1 to 'nn.Linear' (number expected, got string)"),
            ("nn.Linear(2.5, 2)", "bad argument #1 to 'nn.Linear' (number has no integer representation)"),
            ("nn.Linear(1e6, 1e6)", "too large"),
            ("nn.SpatialConvolution(1, 6, 0, 5)", "bad argument #3 to 'nn.SpatialConvolution' (expected an integer >= 1, got 0)"),
            ("nn.SpatialMaxPooling(2, 2, 2, 2, 3, 3)", "padding (3,3) must be at most half the kernel size"),
            // The rules of a model file's architecture, so that what Lua builds saves and loads.
            ("nn.SpatialConvolution(1, 2, 3, 3, 1, 1, 3, 0)", "nn.SpatialConvolution: padW (argument 7) must be smaller than kW = 3, got 3"),
            ("nn.SpatialMaxPooling(2, 2, 5000, 2)", "nn.SpatialMaxPooling: dW (argument 3) must be an integer in 1...4096, got 5000"),
            ("nn.Dropout(1.5)", "nn.Dropout: illegal percentage 1.5"),
            ("nn.View()", "nn.View needs at least one size"),
            ("nn.BatchNormalization(4, 1e-5, 2)", "momentum must be in [0, 1]"),
            ("nn.Tanh():add(nn.Tanh())", "nn.Tanh is not a container"),
            ("nn.Sequential():add(5)", "bad argument #1 to 'add' (nn module expected, got number)"),
            ("local s = nn.Sequential(); s:add(s)", "would make the container contain itself"),
            ("nn.Sequential():get(1)", "layer 1 does not exist: the model has layers 1..0"),
            ("nn.Sequential():insert(nn.Tanh(), 3)", "insert: index 3 out of range 1..1"),
            ("nn.Linear(2, 2):forward(torch.zeros(3))", "input has 3 features"),
            ("nn.Linear(2, 2):forward('x')", "bad argument #1 to 'forward' (torch.FloatTensor expected, got string)"),
            ("nn.Sequential():add(nn.Linear(2, 2)):forward(torch.zeros(2, 3))", "layer 1 (nn.Linear(2 -> 2))"),
            ("nn.Linear(2, 2).gradWeight = torch.zeros(2, 2)", "'gradWeight' of nn.Linear(2 -> 2) cannot be replaced"),
            ("nn.Linear(2, 2).weight = torch.zeros(3)", "weight of nn.Linear(2 -> 2) must be set to a tensor of size 2x2"),
            ("nn.Tanh():ceil()", "nn.Tanh has no ceil mode"),
            ("nn.Nonexistent(3)", "attempt to call a nil value (field 'Nonexistent')"),
            ("nn.SpatialConvolution(3, 4, 3, 3):forward(torch.zeros(1, 2, 8, 8))", "nn.SpatialConvolution"),
            ("nn.SpatialConvolution(1, 4, 5, 5):forward(torch.zeros(1, 1, 3, 3))", "nn.SpatialConvolution"),
            ("nn.SpatialMaxPooling(4, 4):forward(torch.zeros(1, 1, 2, 2))", "nn.SpatialMaxPooling"),
            ("nn.SpatialMaxPooling(2, 2):forward(torch.zeros(4))", "nn.SpatialMaxPooling"),
            ("nn.BatchNormalization(3):forward(torch.zeros(2, 4))", "nn.BatchNormalization"),
            ("nn.View(5):forward(torch.zeros(2, 3))", "nn.View(5)"),
            ("local m = nn.Linear(2, 2); m:forward(torch.zeros(1, 2)); m:backward(torch.zeros(1, 2), torch.zeros(1, 3))", "gradOutput of size 1x3 does not match the output of the last forward (size 1x2)"),
            ("nn.Linear(2, 2):backward(torch.zeros(2), torch.zeros(2))", "nn.Linear(2 -> 2): call forward before backward"),
            ("local m = nn.Tanh(); m:forward(torch.zeros(3)); m:backward(torch.zeros(3), torch.zeros(2))", "gradOutput of size 2 does not match"),
            ("local m = nn.Tanh(); m:forward(torch.zeros(3)); m:backward(torch.zeros(5), torch.zeros(3))", "input of size 5 is not the input of the last forward"),
            ("nn.SoftMax():forward(torch.zeros(2, 2, 2, 2, 2))", "nn.SoftMax"),
            ("nn.Linear(2, 2).weight:resize(5)", "cannot change the number of elements of a tensor (2x2 to 5)"),
        ]
        for (source, expected) in cases {
            let e = luaError(source, lua)
            XCTAssertTrue(e?.message.hasPrefix("test:1: ") ?? false, "\(source): \(e?.message ?? "")")
            XCTAssertTrue(e?.message.contains(expected) ?? false, "\(source): got '\(e?.message ?? "")', expected '\(expected)'")
        }
    }
}
