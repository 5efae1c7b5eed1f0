-- resnet20 for CIFAR-10: resnet-cifar.lua with (20); see that file.
return assert(loadfile(wb.scriptsDirectory() .. '/models/resnet-cifar.lua'))(20)
