# IOPS by queue depth, random read and random write side by side, one line
# per backend configuration. Called by bench/report.py:
#   gnuplot -e "readdat='R.dat'; writedat='W.dat'; ncols=N; out='X.png'; title_tag='quick'" bench/plot.gp
# Each .dat file: a header row (qd, then one quoted name per configuration),
# then one row per queue depth with IOPS per configuration.
set terminal pngcairo size 1200,500 font ",10"
set output out
set multiplot layout 1,2 title sprintf("vhost-user-scsi, 4 KiB, VM-free through the fio engine (%s run)", title_tag)
set key top left font ",8"
set logscale x 2
set logscale y 10
set xlabel "queue depth per queue"
set ylabel "IOPS"
set grid
set datafile missing "NaN"
set title "randread"
plot for [i=2:ncols+1] readdat using 1:i with linespoints title columnheader(i)
set title "randwrite"
plot for [i=2:ncols+1] writedat using 1:i with linespoints title columnheader(i)
unset multiplot
