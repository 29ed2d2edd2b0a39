module github.com/geoledger/geoledger/sdk/go

go 1.22
