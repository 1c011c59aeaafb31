module statefulset-lab/pause

go 1.22
