-- vgg16 for CIFAR-10: vgg-cifar.lua with (16); see that file.
return assert(loadfile(wb.scriptsDirectory() .. '/models/vgg-cifar.lua'))(16)
