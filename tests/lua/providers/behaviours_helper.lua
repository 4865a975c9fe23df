-- A module beside the provider: package.path has the provider's folder.
return { shout = function(s) return s:upper() end }
