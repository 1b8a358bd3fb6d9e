# chart.gp - the benchmark chart: deliveries per second (left) and p99
# delivery latency (right, log scale) of parleyd and nginx+nchan (Node's
# socket.io for the Socket.IO scenarios) for every fan-out scenario.  Call: gnuplot -e "datafile='..'; outfile='..'" chart.gp
set terminal svg size 1100,460 dynamic font "sans,11"
set output outfile
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by 30 right noenhanced
set xlabel "scenario@messages per second" noenhanced
set key top left
set grid ytics
set multiplot layout 1,2
set title "deliveries per second (higher is better)"
set yrange [0:*]
plot datafile using 2:xtic(1) title "parleyd" lc rgb "#2b6cb0", \
     "" using 3 title "peer: nginx+nchan (*-sio: socket.io)" lc rgb "#c05621"
set title "p99 delivery latency, ms (lower is better)"
set logscale y
set yrange [*:*]
plot datafile using 4:xtic(1) title "parleyd" lc rgb "#2b6cb0", \
     "" using 5 title "peer: nginx+nchan (*-sio: socket.io)" lc rgb "#c05621"
unset multiplot
