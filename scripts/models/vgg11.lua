-- vgg11 for CIFAR-10: vgg-cifar.lua with (11); see that file.
return assert(loadfile(wb.scriptsDirectory() .. '/models/vgg-cifar.lua'))(11)
