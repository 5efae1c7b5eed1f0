import Bridge
import Engine
import XCTest

/// Every module built from Lua computes what the same Engine module computes: same
/// architecture (spec), same output, input gradient and parameter gradients on the same
/// weights and inputs.
final class ModuleEquivalenceTests: XCTestCase {
    struct Case {
        let lua: String
        let engine: () throws -> Module
        let input: [Int]
        var training = true
    }

    let cases: [Case] = [
        Case(lua: "nn.Linear(5, 3)", engine: { Linear(5, 3) }, input: [2, 5]),
        Case(lua: "nn.Linear(5, 3, false)", engine: { Linear(5, 3, bias: false) }, input: [2, 5]),
        Case(lua: "nn.SpatialConvolution(2, 3, 3, 2)", engine: { SpatialConvolution(2, 3, 3, 2) }, input: [2, 2, 6, 5]),
        Case(lua: "nn.SpatialConvolution(2, 3, 3, 2, 2, 1, 1, 0)", engine: { SpatialConvolution(2, 3, 3, 2, 2, 1, 1, 0) },
             input: [2, 2, 7, 6]),
        Case(lua: "nn.SpatialMaxPooling(3, 2)", engine: { SpatialMaxPooling(3, 2) }, input: [1, 2, 7, 6]),
        Case(lua: "nn.SpatialMaxPooling(3, 2, 2, 1)", engine: { SpatialMaxPooling(3, 2, 2, 1) }, input: [1, 2, 7, 6]),
        Case(lua: "nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1):ceil()", engine: { SpatialMaxPooling(3, 3, 2, 2, 1, 1).ceil() },
             input: [2, 1, 8, 8]),
        Case(lua: "nn.Tanh()", engine: { Tanh() }, input: [3, 4]),
        Case(lua: "nn.Sigmoid()", engine: { Sigmoid() }, input: [3, 4]),
        Case(lua: "nn.ReLU(true)", engine: { ReLU(inplace: true) }, input: [3, 4]),
        Case(lua: "nn.Identity()", engine: { Identity() }, input: [3, 4]),
        Case(lua: "nn.SoftMax()", engine: { SoftMax() }, input: [3, 4]),
        Case(lua: "nn.LogSoftMax()", engine: { LogSoftMax() }, input: [3, 4]),
        Case(lua: "nn.View(-1, 4)", engine: { try View([-1, 4]) }, input: [2, 8]),
        Case(lua: "nn.View(8):setNumInputDims(2)", engine: { try View([8], numInputDims: 2) }, input: [3, 2, 4]),
        Case(lua: "nn.Reshape(4, 2)", engine: { try Reshape([4, 2]) }, input: [2, 8]),
        Case(lua: "nn.Reshape(4, 2, true)", engine: { try Reshape([4, 2], batchMode: true) }, input: [1, 8]),
        Case(lua: "nn.Dropout(0.3)", engine: { try Dropout(0.3) }, input: [4, 5]),
        Case(lua: "nn.Dropout(0.3)", engine: { try Dropout(0.3) }, input: [4, 5], training: false),
        Case(lua: "nn.BatchNormalization(4, 1e-3, 0.2)", engine: { try BatchNormalization(4, eps: 1e-3, momentum: 0.2) },
             input: [5, 4]),
        Case(lua: "nn.BatchNormalization(4, 1e-5, 0.1, false)", engine: { try BatchNormalization(4, affine: false) },
             input: [5, 4]),
        Case(lua: "nn.SpatialBatchNormalization(3)", engine: { try SpatialBatchNormalization(3) }, input: [2, 3, 4, 4]),
        Case(lua: "nn.SpatialBatchNormalization(3)", engine: { try SpatialBatchNormalization(3) }, input: [2, 3, 4, 4],
             training: false),
        Case(lua: "nn.Sequential():add(nn.Linear(4, 3)):add(nn.Tanh()):add(nn.Linear(3, 2))",
             engine: { Sequential([Linear(4, 3), Tanh(), Linear(3, 2)]) }, input: [2, 4]),
    ]

    func testEveryLuaModuleMatchesTheEngineModule() throws {
        let lua = try LuaRuntime()
        for c in cases {
            let sizes = c.input.map(String.init).joined(separator: ", ")
            try lua.run(string: """
                torch.manualSeed(7)
                m = \(c.lua)
                if \(c.training) then m:training() else m:evaluate() end
                x = torch.randn(\(sizes))
                y = m:forward(x):clone()
                gy = torch.randn(y:size())
                m:zeroGradParameters()
                gx = m:backward(x, gy):clone()
                """, chunkName: c.lua)
            let luaModule = try XCTUnwrap(lua.global("m").module, c.lua)
            GlobalRandom.seed(7)
            let engine = try c.engine()
            XCTAssertEqual(luaModule.spec, engine.spec, c.lua)
            XCTAssertEqual(luaModule.description, engine.description, c.lua)
            XCTAssertEqual(luaModule.allParameters.count, engine.allParameters.count, c.lua)
            for (p, q) in zip(luaModule.allParameters, engine.allParameters) {
                XCTAssertEqual(p.value.scalars, q.value.scalars, "\(c.lua): same seed, same initial weights")
                q.value.copy(from: p.value)
            }
            if c.training { engine.training() } else { engine.evaluate() }
            let x = try XCTUnwrap(lua.global("x").tensor), gy = try XCTUnwrap(lua.global("gy").tensor)
            let y = try engine.forward(x)
            engine.zeroGradParameters()
            let gx = try engine.backward(x, gy)
            XCTAssertTensor(lua.global("y").tensor, shape: y.shape, values: y.scalars, accuracy: 1e-6)
            XCTAssertTensor(lua.global("gx").tensor, shape: gx.shape, values: gx.scalars, accuracy: 1e-6)
            for (p, q) in zip(luaModule.allParameters, engine.allParameters) {
                XCTAssertTensor(p.grad, shape: q.grad.shape, values: q.grad.scalars, accuracy: 1e-6)
            }
        }
    }
}
