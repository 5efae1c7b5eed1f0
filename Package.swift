// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "workbench",
    products: [
        .executable(name: "workbench", targets: ["workbench"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Bridge", targets: ["Bridge"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // The hot loops (matrix products, im2col, pooling, tanh) on raw pointers, compiled
        // without overflow and precondition checks; everything that reads input is in Engine,
        // compiled with them (docs/reliability.md gives the figures).
        .target(
            name: "Kernels",
            swiftSettings: [.unsafeFlags(["-Ounchecked", "-target-cpu", "native"], .when(configuration: .release))]
        ),
        .target(
            name: "Engine",
            dependencies: ["Kernels", "COpenBLAS", "CZlib"],
            swiftSettings: [.unsafeFlags(["-O", "-target-cpu", "native"], .when(configuration: .release))]
        ),
        .target(name: "Bridge", dependencies: ["Engine", "CLua", "RunConfig"]),
        // YAML through Yams: run configurations (edge-popup's configs), sparse-train's schedules and
        // any document for wb.readYAML, each value with its line, checked.
        .target(name: "RunConfig", dependencies: [.product(name: "Yams", package: "Yams")]),
        .executableTarget(
            name: "workbench",
            dependencies: ["Engine", "Bridge", "RunConfig", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Kernels"]),
        .testTarget(name: "BridgeTests", dependencies: ["Bridge", "Engine"]),
        .testTarget(name: "CLITests", dependencies: ["Engine", "workbench"]),
        .testTarget(name: "RunConfigTests", dependencies: ["RunConfig"]),
    ]
)
