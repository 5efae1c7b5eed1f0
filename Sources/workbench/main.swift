import Engine
print("workbench")
