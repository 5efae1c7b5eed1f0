import Bridge
import Engine
import XCTest

/// wb.SGD / wb.Adam with groups, wb.Trainer with hooks, steps and schedules, from Lua.
final class TrainerBindingsTests: XCTestCase {
    /// A small net (784-8-10) and the first 48 images of the installed Fashion-MNIST.
    private let setup = """
        torch.manualSeed(4)
        net = nn.Sequential():add(nn.View(784)):add(nn.Linear(784, 8)):add(nn.Tanh()):add(nn.Linear(8, 10))
        train = wb.loadData('fashion-mnist', {train = 48, test = 10})
        """

    func testHooksRunInOrderWithTheirFields() throws {
        let lua = try LuaRuntime()
        try lua.run(string: setup + """
            opt = wb.SGD{lr = 0.01}
            t = wb.Trainer{model = net, optimizer = opt, batchSize = 16, criterion = nn.CrossEntropyCriterion()}
            log = {}
            local function note(name) return function(s)
              log[#log + 1] = string.format('%s %d.%d step %d samples %d loss %s', name, s.epoch, s.batch, s.step,
                                            s.samples, s.loss ~= s.loss and 'nan' or 'set')
            end end
            t.beforeForward = note('before'); t.afterBackward = note('backward')
            t.afterStep = note('step'); t.afterEpoch = note('epoch')
            t:epoch(train)
            """, chunkName: "hooks")
        let log = try (1...10).map { try evaluate("log[\($0)]", lua).string ?? "" }
        XCTAssertEqual(log, [
            "before 1.1 step 1 samples 0 loss nan", "backward 1.1 step 1 samples 0 loss set", "step 1.1 step 1 samples 0 loss set",
            "before 1.2 step 2 samples 16 loss nan", "backward 1.2 step 2 samples 16 loss set", "step 1.2 step 2 samples 16 loss set",
            "before 1.3 step 3 samples 32 loss nan", "backward 1.3 step 3 samples 32 loss set", "step 1.3 step 3 samples 32 loss set",
            "epoch 1.3 step 4 samples 48 loss set",
        ])
        XCTAssertEqual(try evaluate("t.stepsDone", lua).number, 3)
        XCTAssertEqual(try evaluate("t.epochsDone", lua).number, 1)
        XCTAssertEqual(try evaluate("t.samplesSeen", lua).number, 48)
    }

    /// Momentum carries over two trainer calls: the same as one trainer over both, bit for bit.
    func testOptimiserStateSurvivesCallsAndGroupsTakeTheirOwnRates() throws {
        let lua = try LuaRuntime()
        try lua.run(string: setup + """
            local start = net:clone()
            local function run(split)
              local m = start:clone()
              local opt = wb.SGD{momentum = 0.9, groups = {{modules = {m:get(2)}, lr = 0.1}, {modules = {m:get(4)}, lr = 0}}}
              local t = wb.Trainer{model = m, optimizer = opt, batchSize = 16, seed = 3}
              if split then t:steps(train, 2); t:steps(train, 4) else t:steps(train, 6) end
              return m
            end
            a, b = run(true), run(false)
            same = a:get(2).weight:clone():csub(b:get(2).weight):abs():sum() == 0
            frozenByRate = a:get(4).weight:clone():csub(start:get(4).weight):abs():sum() == 0
            moved = a:get(2).weight:clone():csub(start:get(2).weight):abs():sum() > 0
            """, chunkName: "state")
        for v in ["same", "frozenByRate", "moved"] {
            XCTAssertEqual(try evaluate("tostring(\(v))", lua).string, "true", v)
        }
    }

    func testGroupSettingsScheduleAndResetState() throws {
        let lua = try LuaRuntime()
        try lua.run(string: setup + """
            opt = wb.SGD{lr = 0.2, momentum = 0.5}
            t = wb.Trainer{model = net, optimizer = opt, batchSize = 16}
            t:schedule('step', {every = 2, gamma = 0.5})
            rates = {}
            t.afterStep = function(s) rates[s.step] = opt:group().lr end
            t:steps(train, 5)
            opt:group().momentum = 0
            g = opt:group()
            t2 = wb.Trainer{model = net, optimizer = wb.Adam{lr = 0.01}, batchSize = 16}
            t2:schedule(function(step, epoch) return 0.01 / step end)
            t2:steps(train, 2)
            t2.optimizer:resetState(net:get(2), 'weight', {1, 2, 3})
            t2.optimizer:resetState(net:get(2), 'bias')
            """, chunkName: "schedule")
        XCTAssertEqual(try (1...5).map { try evaluate("rates[\($0)]", lua).number ?? -1 }, [0.2, 0.2, 0.1, 0.1, 0.05].map { Double(Float($0)) })
        XCTAssertEqual(try evaluate("g.momentum", lua).number, 0)
        XCTAssertEqual(try evaluate("opt:size()", lua).number, 0)
        XCTAssertEqual(try evaluate("t2.optimizer:group().lr", lua).number ?? 0, Double(Float(0.005)), accuracy: 1e-9)
    }

    /// t:penalty adds λ·R(θ) to the reported loss and λ·∂R/∂θ to the gradient the
    /// afterBackward hook sees; the handle's strength can change; t:removePenalty takes it off.
    func testPenaltiesAddToTheLossAndTheGradient() throws {
        let lua = try LuaRuntime()
        try lua.run(string: setup + """
            local function trainer() return wb.Trainer{model = net, optimizer = wb.SGD{lr = 0}, batchSize = 48, seed = 2} end
            local plain, penalised = trainer(), trainer()
            local fc = net:get(2)
            p = penalised:penalty{l1 = 0.01, parameters = {fc.weight}}
            local grads = {}
            plain.afterBackward = function() grads.plain = fc.gradWeight:clone() end
            penalised.afterBackward = function() grads.penalised = fc.gradWeight:clone() end
            local lossPlain, lossPenalised = plain:steps(train, 1), penalised:steps(train, 1)
            lossGap = math.abs(lossPenalised - lossPlain - p:value())
            local expected = fc.weight:clone():sign():mul(0.01)
            gradientGap = grads.penalised:clone():csub(grads.plain):csub(expected):abs():max()
            valueGap = math.abs(p:value() - 0.01 * torch.abs(fc.weight):sum())
            p.strength = 0
            offGap = math.abs(penalised:steps(train, 1) - plain:steps(train, 1))
            p.strength = 0.5
            penalised:removePenalty(p)
            removedGap = math.abs(penalised:steps(train, 1) - plain:steps(train, 1))
            local opt = wb.SGD{groups = {{modules = {net:get(4)}, lr = 0.1}}}
            local t = wb.Trainer{model = net, optimizer = opt}
            sizes = {t:penalty{l2 = 1e-3}.size, t:penalty{l2 = 1e-3, group = 1}.size,
                     t:penalty{l1 = 1e-3, modules = {fc, net, fc}}.size}
            description = tostring(t:penalty{l2 = 0.25, modules = {fc}})
            """, chunkName: "penalty")
        XCTAssertLessThan(try evaluate("lossGap", lua).number ?? 1, 1e-6)
        XCTAssertLessThan(try evaluate("gradientGap", lua).number ?? 1, 1e-6)
        XCTAssertLessThan(try evaluate("valueGap", lua).number ?? 1, 1e-6)
        XCTAssertGreaterThan(try evaluate("p:value()", lua).number ?? 0, 0, "strength 0.5 after removal: the handle lives on")
        XCTAssertEqual(try evaluate("offGap", lua).number, 0)
        XCTAssertEqual(try evaluate("removedGap", lua).number, 0)
        XCTAssertEqual(try evaluate("table.concat(sizes, ' ')", lua).string, "4 2 4", "whole model, group 1, modules (each parameter once)")
        XCTAssertEqual(try evaluate("description", lua).string, "wb.Penalty(l2 0.25 on 2 parameters)")
        XCTAssertEqual(try evaluate("p.kind", lua).string, "l1")
    }

    func testBadInputsAreClearErrors() throws {
        let cases: [(String, String)] = [
            ("wb.Trainer{}", "wb.Trainer needs a model"),
            ("wb.Trainer{model = net, optimizer = 3}", "option 'optimizer' must be an optimiser (wb.SGD or wb.Adam)"),
            ("wb.SGD{lr = -1}", "option 'lr' must be a finite number >= 0, got -1.0"),
            ("wb.SGD{lr = 0/0}", "option 'lr' must be a finite number >= 0"),
            ("wb.SGD{rate = 1}", "unknown option 'rate'"),
            ("wb.SGD{groups = {{lr = 1}}}", "group 1 needs modules"),
            ("wb.SGD{groups = {{modules = {5}}}}", "group 1: modules[1] must be an nn module"),
            ("wb.SGD{lr = 0.1}:group(1)", "this optimiser has no groups"),
            ("wb.SGD{lr = 0.1}:group().lr = 1/0", "lr must be a finite number >= 0"),
            ("wb.Trainer{model = net}:schedule('cosine')", "needs total"),
            ("wb.Trainer{model = net}:schedule('zigzag')", "unknown schedule 'zigzag'"),
            ("wb.Trainer{model = net}:schedule('step', {per = 'batch'})", "per must be 'step' or 'epoch'"),
            ("wb.Trainer{model = net}.nonsense = 1", "a trainer has no field 'nonsense'"),
            ("local t = wb.Trainer{model = net}; t:schedule(function() return 0/0 end); t:steps(train, 1)",
             "nan at step 1, epoch 1: a rate must be a finite number"),
            ("local t = wb.Trainer{model = net}; t.afterBackward = function(s) error('noise failed') end; t:epoch(train)",
             ":1: noise failed"),
            ("wb.SGD{lr = 0.1}:resetState(net:get(2), 'weight', {99999})", "element 99999 does not exist"),
            ("wb.SGD{lr = 0.1}:resetState(net:get(3))", "has no weight"),
        ]
        for (source, expected) in cases {
            let lua = try LuaRuntime()
            try lua.run(string: setup, chunkName: "setup")
            // The momentum state exists only after a step: give resetState something to reset.
            let e = luaError(source.contains("resetState") ? source.replacingOccurrences(of: "wb.SGD{lr = 0.1}", with: "(function() local o = wb.SGD{lr = 0.1, momentum = 0.9}; wb.Trainer{model = net, optimizer = o}:steps(train, 1); return o end)()") : source, lua)
            XCTAssertTrue(e?.message.contains(expected) ?? false, "\(source): \(e?.message ?? "no error")")
        }
    }

    /// Bad penalty arguments are clear errors (one runtime: no case changes what the next sees).
    func testBadPenaltiesAreClearErrors() throws {
        let lua = try LuaRuntime()
        try lua.run(string: setup, chunkName: "setup")
        let cases: [(String, String)] = [
            ("wb.Trainer{model = net}:penalty{}", "give exactly one of l1 = λ, l2 = λ or groupLasso = λ"),
            ("wb.Trainer{model = net}:penalty{l1 = 1, l2 = 1}", "give exactly one of l1 = λ, l2 = λ or groupLasso = λ"),
            ("wb.Trainer{model = net}:penalty{l1 = -1}", "the strength of an l1 penalty must be a finite number >= 0, got -1.0"),
            ("wb.Trainer{model = net}:penalty{l2 = 1/0}", "the strength of an l2 penalty must be a finite number >= 0, got inf"),
            ("wb.Trainer{model = net}:penalty{l1 = 'big'}", "option 'l1' must be a number"),
            ("wb.Trainer{model = net}:penalty{l1 = 1, lambda = 2}", "unknown option 'lambda'"),
            ("wb.Trainer{model = net}:penalty{l1 = 1, group = 1}", "group 1 does not exist (the optimiser has 0 groups)"),
            ("wb.Trainer{model = net}:penalty{l1 = 1, group = 1, modules = {net:get(2)}}", "give at most one of group, modules or parameters"),
            ("wb.Trainer{model = net}:penalty{l1 = 1, modules = {net:get(3)}}", "modules[1] (nn.Tanh) has no parameters"),
            ("wb.Trainer{model = net}:penalty{l1 = 1, modules = {}}", "modules[1] must be an nn module, got nil"),
            ("wb.Trainer{model = net}:penalty{l1 = 1, parameters = {net:get(2).weight:clone()}}", "parameters[1] is not a weight or bias of the trainer's model"),
            ("wb.Trainer{model = net}:penalty{l1 = 1, parameters = net:get(2).weight}", "option 'parameters' must be a table"),
            ("wb.Trainer{model = net}:penalty{l1 = 1}.strength = -2", "got -2.0"),
            ("wb.Trainer{model = net}:penalty{l1 = 1}.lambda = 2", "a penalty has no field 'lambda' to set (strength)"),
            ("local t = wb.Trainer{model = net}; local p = t:penalty{l1 = 1}; t:removePenalty(p); t:removePenalty(p)", "this penalty is not on this trainer"),
        ]
        for (source, expected) in cases {
            let e = luaError(source, lua)
            XCTAssertTrue(e?.message.contains(expected) ?? false, "\(source): \(e?.message ?? "no error")")
        }
    }

    func testTrainersAndHooksAreReleased() throws {
        let baseline = Bridge.liveObjects
        do {
            let lua = try LuaRuntime()
            try lua.run(string: setup + """
                for i = 1, 20 do
                  local t = wb.Trainer{model = net, optimizer = wb.SGD{lr = 0.01, momentum = 0.9}, batchSize = 16}
                  t.afterStep = function(s) local g = t.optimizer:group() end
                  t:steps(train, 1)
                end
                """, chunkName: "loop")
        }
        XCTAssertEqual(Bridge.liveObjects, baseline, "closing the runtime releases every trainer, optimiser and hook")
    }

    /// Any criterion, not only the default's class (a generic once inferred CrossEntropy's).
    func testTheTrainerTakesAnyCriterion() throws {
        let lua = try LuaRuntime()
        try lua.run(string: setup + """
            net:add(nn.LogSoftMax())
            t = wb.Trainer{model = net, optimizer = wb.SGD{lr = 0.1}, batchSize = 16, criterion = nn.ClassNLLCriterion()}
            first = t:steps(train, 1)
            for i = 1, 10 do last = t:steps(train, 1) end
            ok = pcall(wb.Trainer, {model = net, optimizer = wb.SGD{}, criterion = nn.MSECriterion()})
            """, chunkName: "criteria")
        XCTAssertLessThan(try evaluate("last", lua).number ?? .nan, try evaluate("first", lua).number ?? .nan)
        XCTAssertEqual(try evaluate("ok", lua).description, "true")
    }
}
