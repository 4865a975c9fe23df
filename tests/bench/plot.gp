# Pods Running over time, every round of every agent, from the data files
# report.py writes (DATADIR/WHICH-ROUND.dat: "seconds count"; DATADIR/zoom:
# the right panel's time range, a few times vk's slowest round).
#   gnuplot -e "datadir='DIR'; out='FILE.png'; n=N" plot.gp
set terminal pngcairo size 1400,600 noenhanced
set output out
files = system("ls " . datadir . "/*.dat")
zoom = real(system("cat " . datadir . "/zoom"))
label(f) = system("basename " . f . " .dat")
# By the file's own name: the folder's path may hold "vk-" too.
color(f) = strstrt(label(f), "vk-") == 1 ? "#1f77b4" : (strstrt(label(f), "upstream-") == 1 ? "#d62728" : (strstrt(label(f), "tuned-") == 1 ? "#2ca02c" : "#7f7f7f"))
dash(f) = label(f)[strlen(label(f))-1:] eq "-1" ? 1 : 2
set multiplot layout 1,2 title sprintf("Pods Running after the first create, seen through a watch (N = %d, one line per round)", n)
set xlabel "seconds since the first create"
set ylabel "pods Running"
set key bottom right
set grid
set yrange [0:n*1.05]
set title "whole run"
plot for [f in files] f using 1:2 with steps lw 2 lc rgb color(f) dt dash(f) title label(f)
set title sprintf("first %.1f s", zoom)
set xrange [0:zoom]
plot for [f in files] f using 1:2 with steps lw 2 lc rgb color(f) dt dash(f) title label(f)
unset multiplot
