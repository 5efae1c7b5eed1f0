-- resnet56 for CIFAR-10: resnet-cifar.lua with (56); see that file.
return assert(loadfile(wb.scriptsDirectory() .. '/models/resnet-cifar.lua'))(56)
