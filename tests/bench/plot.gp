# Pods Running over time, every round of every agent, from the data files
# report.py writes (DATADIR/WHICH-ROUND.dat: "seconds count").
#   gnuplot -e "datadir='DIR'; out='FILE.png'; n=N" plot.gp
set terminal pngcairo size 1000,600 noenhanced
set output out
set title sprintf("Pods Running after the first create (N = %d, one line per round)", n)
set xlabel "seconds since the first create"
set ylabel "pods Running (seen through a watch)"
set key bottom right
set grid
set yrange [0:n*1.05]
files = system("ls " . datadir . "/*.dat")
color(f) = (strstrt(f, "/vk-") ? 0x1f77b4 : (strstrt(f, "/upstream-") ? 0xd62728 : 0x7f7f7f))
label(f) = system("basename " . f . " .dat")
plot for [f in files] f using 1:2 with steps lw 2 lc rgb color(f) title label(f)
