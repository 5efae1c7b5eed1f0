import Bridge
import Engine
import Foundation
import XCTest

/// Modules written in Lua (`torch.class('nn.X', 'nn.Module')`): their gradients against finite
/// differences, training, pruning and model files through them, and the errors of bad ones.
final class LuaModuleTests: XCTestCase {
    /// A linear layer written with addmm/addr (y = x·Wᵀ + 1⊗b) and a scaled tanh
    /// (y = w ⊙ tanh(x), w one weight per feature).
    static let definitions = """
        local Linear, parent = torch.class('nn.LuaLinear', 'nn.Module')
        function Linear:__init(inputSize, outputSize)
          parent.__init(self)
          self.weight = torch.Tensor(outputSize, inputSize)
          self.gradWeight = torch.Tensor(outputSize, inputSize)
          self.bias = torch.Tensor(outputSize)
          self.gradBias = torch.Tensor(outputSize)
          self:reset()
        end
        function Linear:reset()
          local stdv = 1 / math.sqrt(self.weight:size(2))
          self.weight:uniform(-stdv, stdv)
          self.bias:uniform(-stdv, stdv)
        end
        function Linear:updateOutput(input)
          self.output = torch.addr(torch.mm(input, self.weight:t()), torch.ones(input:size(1)), self.bias)
          return self.output
        end
        function Linear:updateGradInput(input, gradOutput)
          self.gradInput = torch.mm(gradOutput, self.weight)
          return self.gradInput
        end
        function Linear:accGradParameters(input, gradOutput, scale)
          self.gradWeight:addmm(scale, gradOutput:t(), input)
          self.gradBias:addmv(scale, gradOutput:t(), torch.ones(input:size(1)))
        end

        local ScaledTanh, base = torch.class('nn.ScaledTanh', 'nn.Module')
        function ScaledTanh:__init(n)
          base.__init(self)
          self.weight = torch.Tensor(n):uniform(0.5, 1.5)
          self.gradWeight = torch.zeros(n)
        end
        function ScaledTanh:updateOutput(input)
          self.t = torch.tanh(input)
          self.output = torch.cmul(self.t, self.weight:repeatTensor(input:size(1), 1))
          return self.output
        end
        function ScaledTanh:updateGradInput(input, gradOutput)
          local slope = torch.cmul(self.t, self.t):mul(-1):add(1)          -- 1 - tanh²
          self.gradInput = torch.cmul(gradOutput, slope):cmul(self.weight:repeatTensor(input:size(1), 1))
          return self.gradInput
        end
        function ScaledTanh:accGradParameters(input, gradOutput, scale)
          self.gradWeight:add(scale, torch.cmul(gradOutput, self.t):sum(1))
        end
        """

    func runtime() throws -> LuaRuntime {
        let lua = try LuaRuntime()
        try lua.run(string: Self.definitions, chunkName: "definitions")
        return lua
    }

    // MARK: gradients

    /// L(x, θ) = Σ y ⊙ R for a fixed random R; backward(x, R) must give ∂L/∂x and ∂L/∂θ.
    /// Central differences with the float32 steps actually taken, sums in double precision.
    func checkJacobian(_ m: Module, input x: Tensor, file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = RandomGenerator(seed: 7)
        let y = try m.forward(x)
        let r = Tensor(shape: y.shape)
        r.fillNormal(mean: 0, std: 1, &rng)
        func loss() throws -> Double { try m.forward(x).dot(r) }
        m.zeroGradParameters()
        _ = try m.forward(x)
        let gradInput = try m.backward(x, r).clone()
        let analytic = [("input", x, gradInput)] + m.parameters.map { ($0.name, $0.value, $0.grad.clone()) }
        XCTAssertFalse(m.parameters.isEmpty, file: file, line: line)
        for (name, tensor, grad) in analytic {
            XCTAssertEqual(grad.count, tensor.count, name, file: file, line: line)
            let p = tensor.data
            for i in 0..<tensor.count {
                let original = p[i]
                p[i] = original + 1e-2
                let up = Double(p[i]) - Double(original)
                let lossUp = try loss()
                p[i] = original - 1e-2
                let down = Double(original) - Double(p[i])
                let lossDown = try loss()
                p[i] = original
                let numeric = (lossUp - lossDown) / (up + down)
                let a = Double(grad[i])
                XCTAssertLessThanOrEqual(abs(a - numeric), 1e-2 * max(abs(a), abs(numeric)) + 2e-3,
                                         "\(m.typeName) \(name)[\(i + 1)]: analytic \(a), numeric \(numeric)", file: file, line: line)
            }
        }
    }

    func testLuaLinearPassesTheJacobianCheck() throws {
        let lua = try runtime()
        let m = try XCTUnwrap(try lua.run(string: "torch.manualSeed(1); return nn.LuaLinear(3, 4)").first?.module)
        XCTAssertEqual(m.parameters.map(\.name), ["weight", "bias"])
        XCTAssertEqual(m.weight?.value.shape, [4, 3])
        var rng = RandomGenerator(seed: 3)
        let x = Tensor(shape: [2, 3])
        x.fillNormal(mean: 0, std: 1, &rng)
        try checkJacobian(m, input: x)
        // and the forward is x·Wᵀ + b, by hand for one entry
        let y = try m.forward(x), w = m.weight!.value, b = m.bias!.value
        let y12 = (0..<3).reduce(Double(b[1])) { $0 + Double(x[$1]) * Double(w[3 + $1]) }
        XCTAssertEqual(Double(y[1]), y12, accuracy: 1e-5)
    }

    func testScaledTanhPassesTheJacobianCheck() throws {
        let lua = try runtime()
        let m = try XCTUnwrap(try lua.run(string: "torch.manualSeed(2); return nn.ScaledTanh(3)").first?.module)
        var rng = RandomGenerator(seed: 4)
        let x = Tensor(shape: [2, 3])
        x.fillNormal(mean: 0, std: 1, &rng)
        try checkJacobian(m, input: x)
    }

    // MARK: a module like any other

    func testALuaModuleWorksWhereverAnNNModuleDoes() throws {
        let lua = try runtime()
        try lua.run(string: """
            torch.manualSeed(0)
            local net = nn.Sequential():add(nn.LuaLinear(3, 4)):add(nn.Tanh()):add(nn.Linear(4, 2))
            local m = net:get(1)
            assert(torch.type(m) == 'nn.LuaLinear' and torch.isTypeOf(m, 'nn.Module'))
            assert(tostring(m) == 'nn.LuaLinear' and tostring(net):find('(1): nn.LuaLinear', 1, true))
            local x = torch.randn(5, 3)
            local y = net:forward(x)
            assert(y:size(1) == 5 and y:size(2) == 2 and m.output:size(2) == 4)
            net:zeroGradParameters()
            net:backward(x, torch.ones(5, 2))
            assert(m.gradWeight:abs():sum() > 0 and m.gradInput:isSameSizeAs(x))
            net:zeroGradParameters()
            assert(m.gradWeight:abs():sum() == 0 and m.gradBias:abs():sum() == 0)
            local p, g = net:parameters()
            assert(#p == 4 and p[1] == m.weight and g[2] == m.gradBias)
            -- masks: applied at every forward, as for the built-in layers
            local mask = torch.ones(4, 3); mask[1][1] = 0
            m:setMask(mask)
            m.weight[1][1] = 5
            net:forward(x)
            assert(m.weight[1][1] == 0 and m.mask:sum() == 11)
            m:removeMask()
            -- a field of the instance outlives its userdata, methods of the class are found
            m.note = 'kept'
            m = nil
            collectgarbage('collect'); collectgarbage('collect')
            assert(net:get(1).note == 'kept' and type(net:get(1).updateOutput) == 'function')
            net:evaluate(); assert(net:get(1).train == false); net:training(); assert(net:get(1).train == true)
            local before = net:get(1).weight:clone()
            net:get(1):reset()
            assert(net:get(1).weight:clone():csub(before):abs():sum() > 0)
            local copy = net:clone()
            assert(torch.type(copy:get(1)) == 'nn.LuaLinear' and copy:get(1).weight ~= net:get(1).weight)
            assert(copy:get(1).weight:clone():csub(net:get(1).weight):abs():sum() == 0)
            -- driven from a coroutine, the Lua calls run on the coroutine
            local co = coroutine.wrap(function() coroutine.yield(net:forward(x)) end)
            assert(co():size(2) == 2)
            -- a class that is not a module makes plain objects, as in Torch
            local Point = torch.class('Point')
            function Point:__init(x) self.x = x end
            assert(torch.type(Point(3)) == 'Point' and Point(3).x == 3 and torch.getmetatable('Point') == Point)
            """, chunkName: "test")
    }

    func testTrainsAndPrunesInsideASequentialBesideBuiltIns() throws {
        let lua = try runtime()
        let result = try lua.run(string: """
            torch.manualSeed(0)
            local net = nn.Sequential():add(nn.View(784)):add(nn.LuaLinear(784, 16)):add(nn.ScaledTanh(16)):add(nn.Linear(16, 10))
            local train = wb.loadData('fashion-mnist', {train = 64, test = 10})
            local trainer = wb.Trainer{model = net, optimizer = wb.SGD{lr = 0.1, momentum = 0.9}, batchSize = 16}
            local first = trainer:epoch(train)
            local last
            for i = 1, 4 do last = trainer:epoch(train) end
            local kept = wb.prune(net, 2, 0.5)
            local keptRandom = wb.prune(net, 3, 0.25, {pruner = 'random', seed = 1})
            local keptTaylor = wb.prune(net, 2, 0.75, {pruner = 'taylor1', data = train, batchSize = 32})
            trainer:epoch(train)
            return first, last, kept, net:get(2).mask:sum(), keptRandom, keptTaylor, net:get(2).weight:eq(0):sum()
            """, chunkName: "test").map { $0.number ?? .nan }
        XCTAssertLessThan(result[1], result[0] * 0.9, "the loss falls: \(result)")
        XCTAssertEqual(result[2], 0.5, accuracy: 1e-9)
        XCTAssertEqual(result[3], 784 * 16 / 4, "taylor1 took layer 2 to 25% kept")
        XCTAssertEqual(result[4], 0.75, accuracy: 0.07)
        XCTAssertEqual(result[5], 0.25, accuracy: 1e-9)
        XCTAssertGreaterThanOrEqual(result[6], 784 * 16 * 3 / 4, "masked weights stay 0 through training")
    }

    // MARK: model files

    func testSavesAndLoadsBitForBit() throws {
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("lua.safetensors").path
        let lua = try runtime()
        lua.setGlobal("path", .string(path))
        try lua.run(string: """
            torch.manualSeed(5)
            net = nn.Sequential():add(nn.LuaLinear(3, 4)):add(nn.ScaledTanh(4)):add(nn.Linear(4, 2))
            local mask = torch.ones(4, 3); mask[2][3] = 0
            net:get(1):setMask(mask)
            wb.saveModel(net, path)
            again = wb.loadModel(path)
            """, chunkName: "test")
        let saved = try XCTUnwrap(lua.global("net").module as? Sequential)
        let spec = try XCTUnwrap(saved.modules.first?.spec)
        XCTAssertEqual(spec, ModuleSpec(type: "nn.LuaLinear", args: [3, 4], definedIn: "Lua"))
        let metadata = try ModelFile.metadata(path)[ModelFile.architectureKey] ?? ""
        XCTAssertTrue(metadata.contains(#""definedIn":"Lua""#) && metadata.contains(#""type":"nn.ScaledTanh""#), metadata)
        func assertSame(_ a: Module, _ b: Module) {
            let (x, y) = (a.allParameters, b.allParameters)
            XCTAssertEqual(x.map(\.name), y.map(\.name))
            for (p, q) in zip(x, y) {
                XCTAssertEqual(p.value.scalars.map(\.bitPattern), q.value.scalars.map(\.bitPattern), p.name)
                XCTAssertEqual(p.mask?.scalars, q.mask?.scalars)
            }
        }
        assertSame(saved, try XCTUnwrap(lua.global("again").module))
        // in another runtime, once the definitions have run
        let other = try runtime()
        other.setGlobal("path", .string(path))
        let loaded = try XCTUnwrap(try other.run(string: "local m = wb.loadModel(path); m:forward(torch.randn(2, 3)); return m").first?.module)
        assertSame(saved, loaded)
        XCTAssertEqual(loaded.spec, saved.spec)
    }

    func testLoadingAFileWithAnUndefinedLuaClassSaysWhatToRun() throws {
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("lua.safetensors").path
        let lua = try runtime()
        lua.setGlobal("path", .string(path))
        try lua.run(string: "wb.saveModel(nn.Sequential():add(nn.Linear(2, 3)):add(nn.LuaLinear(3, 4)), path)")
        let fresh = try LuaRuntime()
        fresh.setGlobal("path", .string(path))
        let message = luaError("\nlocal m = wb.loadModel(path)", fresh)?.message ?? ""
        XCTAssertTrue(message.contains("model file \(path) uses nn.LuaLinear, a module defined in Lua: run the script that defines it (torch.class) before loading"), message)
        XCTAssertTrue(message.hasPrefix("test:2:"), message)
        // the Engine alone (no registry) says the same without the Lua advice
        XCTAssertThrowsError(try ModelFile.load(path)) { error in
            XCTAssertTrue("\(error)".contains("uses nn.LuaLinear, a module defined in Lua"), "\(error)")
        }
    }

    // MARK: bad modules

    func testBadLuaModulesGiveClearErrors() throws {
        let lua = try runtime()
        try lua.run(string: """
            local Broken = torch.class('nn.Broken', 'nn.Module')
            function Broken:updateOutput(input)
              error('no output today')
            end
            local Silent = torch.class('nn.Silent', 'nn.Module')
            function Silent:updateOutput(input)
              self.output = input:clone()
            end
            local Wide = torch.class('nn.Wide', 'nn.Module')
            function Wide:updateOutput(input) self.output = torch.zeros(input:size(1), 7); return self.output end
            function Wide:updateGradInput(input, gradOutput) self.gradInput = torch.zeros(3); return self.gradInput end
            local Forward = torch.class('nn.ForwardOnly', 'nn.Module')
            function Forward:updateOutput(input) return input end
            """, chunkName: "defs")
        let cases: [(String, [String])] = [
            ("nn.Broken():forward(torch.zeros(2))", ["nn.Broken:updateOutput: defs:3: no output today"]),
            ("nn.Silent():forward(torch.zeros(2))",
             ["test:2:", "nn.Silent:updateOutput (defined at defs:6) must return the output tensor (self.output), it returned nothing (nil)"]),
            ("nn.Sequential():add(nn.Wide()):add(nn.Linear(3, 2)):forward(torch.zeros(2, 3))",
             ["test:2:", "layer 2 (nn.Linear(3 -> 2))", "is the output of layer 1, nn.Wide, a module defined in Lua", "2x7"]),
            ("local m = nn.Wide(); local x = torch.zeros(2, 3); m:forward(x); m:backward(x, torch.zeros(2, 7))",
             ["test:2:", "nn.Wide:updateGradInput (defined at defs:11) returned a gradInput of size 3 for an input of size 2x3"]),
            ("local m = nn.ForwardOnly(); m:forward(torch.zeros(2)); m:backward(torch.zeros(2), torch.zeros(2))",
             ["nn.ForwardOnly has no updateGradInput method: define function ForwardOnly:updateGradInput"]),
            ("local m = nn.ForwardOnly(); m.weight = 3", ["self.weight must be a tensor, got number"]),
            ("local m = nn.ForwardOnly(); m.gradWeight = torch.zeros(2)", ["nn.ForwardOnly: set self.weight before self.gradWeight"]),
            ("local m = nn.ForwardOnly(); m.weight = torch.zeros(2); m.gradWeight = torch.zeros(3)", ["self.gradWeight must be a tensor of the size of self.weight (2)"]),
            ("torch.class('nn.Broken', 'nn.Module')", ["test:2:", "torch.class: nn.Broken already exists"]),
            ("torch.class('nn.Linear', 'nn.Module')", ["torch.class: nn.Linear already exists"]),
            ("torch.class('nn.MyLinear', 'nn.Linear')", ["cannot derive from nn.Linear, which is built into the workbench"]),
            ("torch.class('nn.Orphan', 'nn.Nothing')", ["unknown parent class nn.Nothing"]),
            ("torch.class(3)", ["the class name must be a string"]),
            ("wb.saveModel(nn.Sequential():add(nn.ForwardOnly('x')), os.tmpname())",
             ["cannot save nn.ForwardOnly: argument 1 of its constructor is a string"]),
        ]
        for (source, expected) in cases {
            let message = luaError("\n" + source, lua)?.description ?? ""
            for e in expected { XCTAssertTrue(message.contains(e), "\(source)\n  gives: \(message)\n  missing: \(e)") }
        }
        // the state still works after every one of them
        XCTAssertEqual(try evaluate("nn.ForwardOnly():forward(torch.ones(2)):sum()", lua).number, 2)
    }

    func testAModuleOutlivingItsRuntimeGivesAnErrorNotACrash() throws {
        var m: Module?
        do {
            let lua = try runtime()
            m = try lua.run(string: "return nn.LuaLinear(2, 2)").first?.module
        }
        let module = try XCTUnwrap(m)
        XCTAssertThrowsError(try module.forward(Tensor(shape: [1, 2]))) { error in
            XCTAssertTrue("\(error)".contains("the Lua state that defined it is closed"), "\(error)")
        }
    }

    // MARK: memory

    func testLuaModulesLeakNothing() throws {
        let baseline = Bridge.liveObjects
        weak var weakModule: Module?
        do {
            let lua = try runtime()
            try lua.run(string: """
                for i = 1, 200 do
                  local net = nn.Sequential():add(nn.LuaLinear(3, 2)):add(nn.ScaledTanh(2))
                  local x = torch.randn(4, 3)
                  net:backward(x, net:forward(x))
                  net:get(1).scratch = {torch.zeros(3), net:get(2)}
                  local copy = net:clone()
                  pcall(function() net:forward(torch.zeros(4, 5)) end)
                end
                collectgarbage('collect'); collectgarbage('collect'); collectgarbage('collect')
                """, chunkName: "loop")
            XCTAssertEqual(Bridge.liveObjects, baseline, "everything the loop made was released")
            weakModule = try lua.run(string: "keep = nn.LuaLinear(2, 2); return keep").first?.module
            XCTAssertNotNil(weakModule)
        }
        XCTAssertNil(weakModule, "freed with its runtime")
        XCTAssertEqual(Bridge.liveObjects, baseline)
    }
}
