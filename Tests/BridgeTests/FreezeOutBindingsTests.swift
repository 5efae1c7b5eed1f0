import Bridge
import Engine
import XCTest

/// wb.freezeOut's plan and the schedule of scripts/lib/freezeout.lua: every group's rate at
/// every step is its formula, a layer past its freeze point is frozen, in evaluation mode and
/// bit-identical from then on, and the two ways of setting the rates give the same bits.
final class FreezeOutBindingsTests: XCTestCase {
    func testThePlanOfLeNet300100() throws {
        let lua = try LuaRuntime()
        try lua.run(string: """
            local net = dofile(wb.scriptsDirectory() .. '/models/lenet300-100.lua')
            plan = wb.freezeOut(net, {input = {1, 28, 28}, t0 = 0.8, howScale = 'cubic', lr = 0.1, iterations = 1000, epochs = 10})
            local l = plan.layers
            assert(#l == 3 and l[1].first == 1 and l[1].last == 3 and l[2].first == 4 and l[3].last == 6)
            assert(#l[1].modules == 3 and l[1].modules[2] == net:get(2))
            assert(l[1].cost == 2 * 784 * 300 + 600 and math.abs(l[1].t - 0.512) < 1e-12 and math.abs(l[1].lr - 0.1 / 0.512) < 1e-12)
            assert(math.abs(l[1].freezeAt - 512) < 1e-9 and not l[1].classifier and l[3].classifier and l[3].t == 1)
            unscaled = wb.freezeOut(net, {input = {1, 28, 28}, scaleLR = false}).layers[1].lr
            flops = wb.forwardFLOPs(net, {input = {1, 28, 28}})
            """, chunkName: "plan")
        XCTAssertEqual(try evaluate("plan.speedup", lua).number ?? 0, 0.231, accuracy: 0.001)
        XCTAssertEqual(try evaluate("plan.constTimeEpochs", lua).number, 13)
        XCTAssertEqual(try evaluate("unscaled", lua).number ?? 0, 0.1, accuracy: 1e-12, "scaleLR = false: lr itself")
        XCTAssertEqual(try evaluate("#flops", lua).number, 6)
        XCTAssertEqual(try evaluate("flops[2]", lua).number, 2 * 784 * 300 + 300)
        for (bad, message) in [
            ("{input = {1, 28, 28}, howScale = 'quartic'}", "howScale must be linear, squared or cubic, got 'quartic'"),
            ("{input = {1, 28, 28}, t0 = 0}", "t_0 must be in (0, 1], got 0.0"),
            ("{t0 = 0.5}", "option 'input' = {channels, height, width} is needed"),
            ("{input = {1, 28}}", "option 'input' must be {channels, height, width}"),
            ("{input = {1, 28, 28}, lr = -1}", "option 'lr' must be a finite number > 0"),
            ("{input = {1, 28, 28}, t_0 = 0.5}", "unknown option 't_0'"),
            ("{input = {1, 5, 5}}", "layer 1"),
        ] {
            let e = luaError("wb.freezeOut(dofile(wb.scriptsDirectory() .. '/models/lenet300-100.lua'), \(bad))", lua)
            XCTAssertTrue(e?.description.contains(message) ?? false, "\(bad): \(e?.description ?? "no error")")
        }
    }

    /// A 4-layer net with dropout in its first layer, 3 epochs of 6 steps (J = 18), t_0 = 0.5
    /// linear: the rates, freezing, modes and weights at every step, by either schedule.
    private func run(by: String, scaled: Bool, lua: LuaRuntime) throws {
        try lua.run(string: """
            local freezeout = require 'lib.freezeout'
            torch.manualSeed(3)
            local net = nn.Sequential():add(nn.View(784)):add(nn.Linear(784, 12)):add(nn.Tanh()):add(nn.Dropout(0.3))
                                      :add(nn.Linear(12, 10)):add(nn.Tanh()):add(nn.Linear(10, 8)):add(nn.Tanh())
                                      :add(nn.Linear(8, 10))
            local train = wb.loadData('fashion-mnist', {train = 96, test = 10})
            local o = freezeout.options{t_0 = 0.5, how_scale = 'linear', scale_lr = \(scaled), batch_size = 16, lr = 0.05}
            local plan = freezeout.plan(net, train, o, 3)
            assert(plan.J == 18 and #plan.layers == 4 and plan.layers[1].freezeAt == 9)
            assert(math.abs(plan.layers[2].freezeAt - 12) < 1e-9 and math.abs(plan.layers[3].freezeAt - 15) < 1e-9)
            local opt = freezeout.optimizer(plan, o)
            local t = wb.Trainer{model = net, optimizer = opt, batchSize = 16, seed = 2}
            local events = {}
            local active = freezeout.install(t, opt, plan, function(n, i, j) events[#events + 1] = {n, i, j} end, '\(by)')
            local frozenWeights = {}
            t.afterStep = function(s)
              local j = s.step - 1
              for i, layer in ipairs(plan.layers) do
                local lr = opt:group(i).lr
                local due = not layer.classifier and j >= layer.freezeAt
                local a0 = \(scaled) and 0.05 / layer.t or 0.05
                local want = due and 0 or 0.5 * a0 * (1 + math.cos(math.pi * j / (layer.t * plan.J)))
                assert(math.abs(lr - want) < 2e-7 * a0, string.format('layer %d step %d: lr %.9g, want %.9g', i, s.step, lr, want))
                local w
                for _, m in ipairs(layer.modules) do w = w or (m.weight and m) end
                for _, m in ipairs(layer.modules) do
                  assert(m.isFrozen == due, string.format('layer %d step %d: frozen %s', i, s.step, tostring(m.isFrozen)))
                  assert(m.train == not due, string.format('layer %d step %d: training mode %s', i, s.step, tostring(m.train)))
                end
                if due then
                  if not frozenWeights[i] then
                    frozenWeights[i] = w.weight:clone()
                    assert(w.gradWeight:clone():abs():sum() == 0, 'a frozen layer has no gradient')
                  end
                  assert(w.weight:clone():csub(frozenWeights[i]):abs():max() == 0, string.format('layer %d moved at step %d', i, s.step))
                end
              end
            end
            for e = 1, 3 do t:epoch(train) end
            -- layer i freezes before iteration ceil(t_i J) (from 0): t = 1/2, 2/3, 5/6 of 18 -> 9, 12, 15
            assert(#events == 3 and active() == 1, #events)
            for k, want in ipairs{{3, 1, math.ceil(plan.layers[1].freezeAt)}, {2, 2, math.ceil(plan.layers[2].freezeAt)},
                                  {1, 3, math.ceil(plan.layers[3].freezeAt)}} do
              assert(events[k][1] == want[1] and events[k][2] == want[2] and events[k][3] == want[3],
                     string.format('event %d: %d %d %d', k, events[k][1], events[k][2], events[k][3]))
            end
            final = net:get(9).weight:clone()
            """, chunkName: "freezeout-\(by)")
    }

    func testTheScheduleAndTheFreezingAtEveryStepByEitherMethod() throws {
        for scaled in [true, false] {
            let hook = try LuaRuntime(), schedule = try LuaRuntime()
            try run(by: "hook", scaled: scaled, lua: hook)
            try run(by: "schedule", scaled: scaled, lua: schedule)
            let a = try evaluate("final", hook).tensor, b = try evaluate("final", schedule).tensor
            XCTAssertEqual(a?.scalars, b?.scalars, "the same bits by a hook or by schedules (scaled: \(scaled))")
        }
    }
}
