# InngestNode.pm: the cluster every TAP test of inngest_pg starts: the
# extension preloaded, its background workers on database "postgres".
#
#   use FindBin;
#   use lib $FindBin::RealBin;
#   use InngestNode;
#   my $node = InngestNode::start('name', workers => 4, conf => "...");

package InngestNode;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;

# A started node named $name with inngest.workers = $opts{workers}
# (default 2) and the extra postgresql.conf lines $opts{conf}.
sub start
{
	my ($name, %opts) = @_;
	my $workers = $opts{workers} // 2;
	my $extra = $opts{conf} // '';
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init;
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'inngest_pg'
inngest.database = 'postgres'
inngest.workers = $workers
$extra
});
	$node->start;
	return $node;
}

1;
