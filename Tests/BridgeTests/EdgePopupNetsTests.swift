import Bridge
import Engine
import XCTest

/// scripts/lib/edgepopup: the nets as the original builds them (layers, weight counts, output
/// shape) and the inits' formulas.
final class EdgePopupNetsTests: XCTestCase {
    func numbers(_ v: [LuaValue]) -> [Double] { v.map { if case let .number(d) = $0 { return d }; return .nan } }

    func testNetsHaveTheOriginalsLayers() throws {
        // weights: convolutions 3x3 without bias, then fc-256-256-10
        let convs: [String: [(Int, Int)]] = [
            "Conv2": [(3, 64), (64, 64)],
            "Conv4": [(3, 64), (64, 64), (64, 128), (128, 128)],
            "Conv6": [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256)],
            "Conv8": [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 512), (512, 512)],
        ]
        let flat = ["Conv2": 64 * 16 * 16, "Conv4": 128 * 8 * 8, "Conv6": 256 * 4 * 4, "Conv8": 512 * 2 * 2]
        for (arch, layers) in convs {
            let convWeights: Int = layers.map { $0.0 * $0.1 * 9 }.reduce(0, +)
            let expected: Int = convWeights + flat[arch]! * 256 + 65_536 + 2_560
            let v = try runLua("""
            local nets = require 'lib.edgepopup.nets'
            local net = nets.build('\(arch)', 3, 32, 32)
            local biases = 0
            for _, m in ipairs(nets.weightLayers(net)) do if m.bias then biases = biases + 1 end end
            return wb.weightCount(net), #nets.weightLayers(net), biases, #net:findModules('nn.SpatialMaxPooling')
            """)
            XCTAssertEqual(numbers(v), [Double(expected), Double(layers.count + 3), 0, Double(layers.count / 2)], arch)
        }
        XCTAssertEqual(numbers(try runLua("""
        local nets = require 'lib.edgepopup.nets'
        local net = nets.build('FC', 1, 28, 28)
        local y = net:forward(torch.rand(2, 1, 28, 28))
        return wb.weightCount(net), y:size(1), y:size(2)
        """)), [Double(266_200), 2.0, 10.0])
        XCTAssertEqual(numbers(try runLua("""
        local y = require('lib.edgepopup.nets').build('Conv2', 3, 32, 32):forward(torch.rand(1, 3, 32, 32))
        return y:size(1), y:size(2)
        """)), [1.0, 10.0])
        let e = luaError("require('lib.edgepopup.nets').build('Conv4', 1, 28, 28)")
        XCTAssertTrue(e?.message.contains("Conv4 is a CIFAR-10 net: it needs 3x32x32 images, the data has 1x28x28") ?? false, "\(String(describing: e))")
    }

    /// Each init against its formula on a 300x784 weight (fan_in 784, relu gain √2), k = 0.25.
    func testInitsFollowTheirFormulas() throws {
        func run(_ init_: String, scale: Bool, rule: String = "kept") throws -> [LuaValue] {
            try runLua("""
            torch.manualSeed(3)
            local inits = require 'lib.edgepopup.inits'
            local m = nn.Linear(784, 300, false)
            inits.apply(m, {init = '\(init_)', mode = 'fan_in', nonlinearity = 'relu', scale_fan = \(scale),
                            scale_fan_rule = '\(rule)', keep = 0.25})
            local w = m.weight
            local sd = math.sqrt(w:clone():pow(2):mean() - w:mean() ^ 2)
            return w:clone():abs():max(), w:clone():abs():min(), sd, w:mean()
            """)
        }
        func num(_ v: LuaValue) -> Double { if case let .number(d) = v { return d }; return .nan }
        let sigma = 2.0.squareRoot() / 784.0.squareRoot()
        var v = try run("signed_constant", scale: false)
        XCTAssertEqual(num(v[0]), sigma, accuracy: 1e-6)
        XCTAssertEqual(num(v[1]), sigma, accuracy: 1e-6)
        XCTAssertEqual(num(v[3]), 0, accuracy: 0.01 * sigma * 10)
        v = try run("signed_constant", scale: true)                       // fan·k
        XCTAssertEqual(num(v[0]), sigma / 0.25.squareRoot(), accuracy: 1e-6)
        v = try run("signed_constant", scale: true, rule: "original")     // fan·(1 − k)
        XCTAssertEqual(num(v[0]), sigma / 0.75.squareRoot(), accuracy: 1e-6)
        v = try run("unsigned_constant", scale: false)
        XCTAssertEqual(num(v[1]), sigma, accuracy: 1e-6)
        v = try run("kaiming_normal", scale: false)
        XCTAssertEqual(num(v[2]), sigma, accuracy: 0.01 * sigma)
        v = try run("kaiming_normal", scale: true)
        XCTAssertEqual(num(v[2]), 2 * sigma, accuracy: 0.02 * sigma)
        v = try run("kaiming_uniform", scale: false)                      // U(±gain·√(3/fan)): sd = gain/√fan
        XCTAssertLessThanOrEqual(num(v[0]), sigma * 3.0.squareRoot() + 1e-6)
        XCTAssertEqual(num(v[2]), sigma, accuracy: 0.01 * sigma)
        v = try run("xavier_normal", scale: false)
        XCTAssertEqual(num(v[2]), (2.0 / (784 + 300)).squareRoot(), accuracy: 0.01 * (2.0 / 1084).squareRoot())
        v = try run("standard", scale: false)
        XCTAssertLessThanOrEqual(num(v[0]), 1 / 784.0.squareRoot() + 1e-6)
    }
}
